"""Spec files: every zoo model written out and read back gives the same network; the examples'
counts equal torchvision's; every bad file is one line that names file, key or row, value."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

import flopcalc
from flopcalc.walk import count_layers as plain
from flopcalc.specfile import parse, read, write
from flopcalc.spec import SpecError
from flopcalc.zoo import MODELS, get_spec
from support import DATA, ROOT, torchvision_v3

EXAMPLES = ROOT / "examples"
TV = json.loads((DATA / "torchvision_examples.json").read_text())["models"]


@pytest.mark.parametrize("model", list(MODELS))
def test_every_zoo_model_round_trips(model, tmp_path, cli):
    path = tmp_path / f"{model}.toml"
    code, _, err = cli("spec", model, "--out", str(path))
    assert code == 0 and err == f"wrote {path}\n"
    family = read(path)
    assert family == MODELS[model].family
    for alpha in (0.35, 0.75, 1.0, 1.4):
        assert get_spec(family, alpha) == get_spec(model, alpha)  # the very same network
        a, b = plain(family, alpha, 160), plain(model, alpha, 160)
        assert (a.layers, a.total, a.by_kind) == (b.layers, b.total, b.by_kind)
    assert cli("table", str(path), "--alpha", "0.5")[1] == cli("table", model, "--alpha", "0.5")[1]


def test_a_files_own_alpha_is_its_default(tmp_path, cli):
    path = tmp_path / "v3.toml"
    cli("spec", "mobilenet_v3_small", "--alpha", "0.75", "--out", str(path))
    doc = json.loads(cli("table", str(path), "--format", "json")[1])
    tv3 = torchvision_v3()["mobilenet_v3_small"]  # torchvision's sum(p.numel()), recorded live
    assert doc["config"]["alpha"] == 0.75 and doc["total"]["params"] == tv3["0.75"]["params"]
    assert json.loads(cli("table", str(path), "--alpha", "1", "--format", "json")[1])["total"]["params"] == \
        tv3["1.0"]["params"]


@pytest.mark.parametrize("example, tv, alpha", [("efficientnet_b0", "efficientnet_b0", 1.0),
                                                ("mnasnet_b1", "mnasnet1_0", 1.0), ("mnasnet_b1", "mnasnet0_5", 0.5)])
def test_examples_equal_torchvision(example, tv, alpha):
    """torchvision 0.29.1's own counts (tools/make_torchvision_v3_fixtures.py): parameters, and
    FlopCounterMode's flops, two per multiply-add."""
    a = flopcalc.analyze(read(EXAMPLES / f"{example}.toml"), alpha)
    assert a.total.params == TV[tv]["params"]
    assert 2 * a.total.macs == TV[tv]["flop_counter"]["224"]


GOOD = write(MODELS["mobilenet_v2"].family)
ROW = '{ block = "inverted_residual", k = 3, t = 6, c = 24, n = 2, s = 2, act = "relu6" }'

ACCEPTED_ACTS = "relu, relu6, identity, hardswish, hardsigmoid, silu, sigmoid, gelu"
BLOCKS = "depthwise_separable, inverted_residual, mbconv, uib, fused_ib, conv_bn_act, mqa"
MB_ROW = ROW.replace("inverted_residual", "mbconv")

# (what is wrong, file text, the whole line after "spec file 'PATH'"): the message is the contract
# a user reads, so it is checked whole
BAD = [
    ("not TOML", "name = \n", " is not valid TOML: Invalid value (at line 1, column 8)"),
    ("unknown top key", "colour = 'red'\n" + GOOD,
     ": colour: unknown key; accepted: name, title, source, in_channels, alpha, divisor, round_expansion, "
     "depth, resolution, layout, layer_scale, stem, stages, head, se, norm"),
    ("unknown table key", GOOD + "\nshade = 1\n", ": norm.shade: unknown key; accepted: eps, momentum"),
    ("missing stages", "name = 'x'\nstem = { c = 8 }\nhead = {}\n",
     ": stages: is required; a spec file needs name, stem, stages, head"),
    ("stem not a table", GOOD.replace('stem = { c = 32, k = 3, s = 2, act = "relu6" }', "stem = 3"),
     ": stem: must be a table, got 3"),
    ("stem channels missing", GOOD.replace("stem = { c = 32, ", "stem = { "),
     ": stem: c is required (an integer >= 1)"),
    ("channels a string", GOOD.replace("stem = { c = 32", 'stem = { c = "32"'),
     ": stem: c must be an integer >= 1, got '32'"),
    ("channels a boolean", GOOD.replace("stem = { c = 32", "stem = { c = true"),
     ": stem: c must be an integer >= 1, got True"),
    ("zero channels", GOOD.replace(ROW, ROW.replace("c = 24", "c = 0")),
     ": stages[1]: c must be an integer >= 1, got 0"),
    ("zero stride", GOOD.replace(ROW, ROW.replace("s = 2", "s = 0")),
     ": stages[1]: s must be an integer >= 1, got 0"),
    ("negative repeats", GOOD.replace(ROW, ROW.replace("n = 2", "n = -2")),
     ": stages[1]: n must be an integer >= 1, got -2"),
    ("in_channels zero", GOOD.replace("in_channels = 3", "in_channels = 0"),
     ": in_channels: in_channels must be an integer >= 1, got 0"),
    ("unknown block", GOOD.replace(ROW, ROW.replace("inverted_residual", "resnet")),
     f": stages[1]: block must be one of {BLOCKS}, got 'resnet'"),
    ("block missing", GOOD.replace(ROW, ROW.replace('block = "inverted_residual", ', "")),
     f": stages[1]: block is required; accepted: {BLOCKS}"),
    ("unknown row key", GOOD.replace(ROW, ROW.replace(" }", ", groups = 2 }")),
     ": stages[1].groups: unknown key; accepted: block, k, t, c, n, s, act, residual, stage"),
    ("se on an inverted residual", GOOD.replace(ROW, ROW.replace(" }", ", se = true }")),
     ": stages[1].se: unknown key; accepted: block, k, t, c, n, s, act, residual, stage"),
    ("se not a boolean", GOOD.replace(ROW, MB_ROW.replace(" }", ", se = 1 }")),
     ": stages[1]: se must be true or false, got 1"),
    ("unknown activation", GOOD.replace(ROW, ROW.replace('"relu6" }', '"mish" }')),
     f": stages[1]: act must be one of {ACCEPTED_ACTS}, got 'mish'"),
    ("impossible residual", GOOD.replace(ROW, ROW.replace(" }", ", residual = true }")),
     ": stages[1]: a residual needs stride 1 and equal input and output widths; this inverted_residual block "
     "has stride 2 and 16 -> 24 channels"),
    ("kernel larger than the map", GOOD.replace('{ block = "inverted_residual", k = 3, t = 6, c = 320',
                                                '{ block = "inverted_residual", k = 9, t = 6, c = 320'),
     ": stages[6]: k = 9: a 9x9 kernel is larger than the 7x7 map it runs on at the file's resolution 224; "
     "use a smaller k or set resolution"),
    ("resolution 1", GOOD.replace("resolution = 224", "resolution = 1"),
     ": stages[0]: k = 3: a 3x3 kernel is larger than the 1x1 map it runs on at the file's resolution 1; "
     "use a smaller k or set resolution"),
    ("depth 0", GOOD.replace("depth = 1.0", "depth = 0"), ": depth: depth must be a finite number > 0, got 0"),
    ("depth huge", GOOD.replace("depth = 1.0", "depth = 1e9"),
     ": depth: depth must be a finite number > 0 and at most 20, got 1000000000.0"),
    ("depth nan", GOOD.replace("depth = 1.0", "depth = nan"), ": depth: depth must be a finite number > 0, got nan"),
    ("layout", GOOD.replace('layout = "flat"', 'layout = "nested"'),
     ": layout: layout must be one of flat, stages, mnasnet, timm, got 'nested'"),
    ("uib k even", GOOD.replace(ROW, '{ block = "uib", a = 3, k = 2, t = 4, c = 24, s = 2 }'),
     ": stages[1]: k must be odd (a centred kernel keeps the map size at stride 1) or 0 (none), got 2"),
    ("uib a even", GOOD.replace(ROW, '{ block = "uib", a = 4, k = 3, t = 4, c = 24, s = 2 }'),
     ": stages[1]: a must be odd (a centred kernel keeps the map size at stride 1) or 0 (none), got 4"),
    ("uib stride without a depthwise", GOOD.replace(ROW, '{ block = "uib", a = 0, k = 0, t = 4, c = 24, s = 2 }'),
     ": stages[1]: a uib row at stride 2 needs a depthwise conv to carry it: a or k > 0"),
    ("fused_ib without t", GOOD.replace(ROW, '{ block = "fused_ib", k = 3, c = 24, s = 2 }'),
     ": stages[1]: t (the expansion ratio) is required"),
    ("stem scale", GOOD.replace('stem = { c = 32, k = 3, s = 2, act = "relu6" }',
                                'stem = { c = 32, k = 3, s = 2, act = "relu6", scale = "half" }'),
     ": stem: scale must be one of always, up, never, got 'half'"),
    ("resolution 0", GOOD.replace("resolution = 224", "resolution = 0"),
     ": resolution: resolution must be an integer >= 1, got 0"),
    ("even kernel", GOOD.replace(ROW, ROW.replace("k = 3", "k = 4")),
     ": stages[1]: k must be odd (a centred kernel keeps the map size at stride 1), got 4"),
    ("no expansion", GOOD.replace(ROW, ROW.replace("t = 6, ", "")),
     ": stages[1]: t (the expansion ratio) is required"),
    ("no expansion in an mbconv", GOOD.replace(ROW, MB_ROW.replace("t = 6, ", "")),
     ": stages[1]: t (the expansion ratio) is required (or exp, the expanded width)"),
    ("zero expansion", GOOD.replace(ROW, ROW.replace("t = 6", "t = 0")),
     ": stages[1]: t must be a finite number > 0, got 0"),
    ("zero expanded width", GOOD.replace(ROW, MB_ROW.replace("t = 6", "exp = 0")),
     ": stages[1]: exp must be an integer >= 1, got 0"),
    ("t and exp", GOOD.replace(ROW, MB_ROW.replace("t = 6", "t = 6, exp = 144")),
     ": stages[1]: give t (an expansion ratio) or exp (an expanded width), not both"),
    ("dropout", GOOD.replace("dropout = 0.2", "dropout = 1.5"),
     ": head: dropout must be a number in [0, 1), got 1.5"),
    ("dropout a boolean", GOOD.replace("dropout = 0.2", "dropout = true"),
     ": head: dropout must be a number in [0, 1), got True"),
    ("head conv twice", GOOD.replace("conv = 1280,", "conv = 1280, conv_expand = 6,"),
     ": head: give conv (a width) or conv_expand (a multiple of the input), not both"),
    ("se base", GOOD.replace('of = "expanded"', 'of = "output"'),
     ": se: of must be one of expanded, input, got 'output'"),
    ("negative eps", GOOD.replace("eps = 1e-05", "eps = -1.0"), ": norm: eps must be a finite number > 0, got -1.0"),
    ("momentum 1", GOOD.replace("momentum = 0.1", "momentum = 1.0"),
     ": norm: momentum must be a finite number > 0 and < 1, got 1.0"),
    ("alpha zero", GOOD.replace("alpha = 1.0", "alpha = 0"), ": alpha: alpha must be a finite number > 0, got 0"),
    ("alpha nan", GOOD.replace("alpha = 1.0", "alpha = nan"), ": alpha: alpha must be a finite number > 0, got nan"),
    ("alpha infinite", GOOD.replace("alpha = 1.0", "alpha = inf"),
     ": alpha: alpha must be a finite number > 0, got inf"),
    ("alpha a boolean", GOOD.replace("alpha = 1.0", "alpha = true"),
     ": alpha: alpha must be a finite number > 0, got True"),
    ("round_expansion a number", GOOD.replace("round_expansion = false", "round_expansion = 1"),
     ": round_expansion: round_expansion must be true or false, got 1"),
    ("title a number", GOOD.replace('title = "MobileNet V2"', "title = 3"), ": title: title must be a string, got 3"),
    ("name", GOOD.replace('name = "mobilenet_v2"', 'name = "my net"'),
     ": name: must be letters, digits, '_', '-' or '.', got 'my net'"),
    ("name empty", GOOD.replace('name = "mobilenet_v2"', 'name = ""'),
     ": name: must be letters, digits, '_', '-' or '.', got ''"),
    ("name a number", GOOD.replace('name = "mobilenet_v2"', "name = 2"), ": name: name must be a string, got 2"),
    ("empty stages", 'name = "x"\nstem = { c = 8 }\nstages = []\nhead = {}\n',
     ": stages: must be a non-empty list of rows ({ block = ..., c = ..., ... }), got []"),
    ("stages not a list", 'name = "x"\nstem = { c = 8 }\nstages = 3\nhead = {}\n',
     ": stages: must be a non-empty list of rows ({ block = ..., c = ..., ... }), got 3"),
    ("row not a table", GOOD.replace(ROW, "[3, 6, 24, 2, 2]"),
     ': stages[1]: must be a table such as { block = "mbconv", c = 24, ... }, got [3, 6, 24, 2, 2]'),
]


@pytest.mark.parametrize("what, text, message", BAD, ids=[b[0] for b in BAD])
def test_bad_spec_file_is_one_line_exit_2(what, text, message, tmp_path, cli):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SpecError) as e:
        read(path)
    assert str(e.value) == f"spec file '{path}'{message}"
    code, out, err = cli("table", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.endswith(f"spec file '{path}'{message}\n")


@pytest.mark.parametrize("what, path, words", [
    ("missing", "nowhere/model.toml", ["spec file 'nowhere/model.toml' does not exist"]),
    ("a directory", "examples/", ["is a directory"]),
])
def test_unreadable_spec_file(what, path, words, cli, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, out, err = cli("table", path)
    assert code == 2 and err.count("\n") == 1 and all(w in err for w in words)


def test_binary_file_is_refused(tmp_path, cli):
    path = tmp_path / "model.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    code, _, err = cli("table", str(path))
    assert code == 2 and "cannot be read" in err and err.count("\n") == 1


def test_parse_defaults():
    f = parse({"name": "tiny", "stem": {"c": 8}, "head": {},
               "stages": [{"block": "depthwise_separable", "c": 16, "s": 2}]})
    a = flopcalc.analyze(f, resolution=32)
    assert [r.name for r in a.layers][:3] == ["features.0.0", "features.0.1", "features.0.2"]
    assert a.layer("features.1.conv.1.0").output_shape == (16, 8, 8)
    assert a.layer("classifier.1").spec.out_features == 1000
    assert replace(f, alpha=2.0) != f


def test_every_default_is_the_documented_one():
    """A file of only the required keys reads as the format's documentation says (docs/spec-files.md and
    the specfile module's docstring): stem 3x3 stride 2 ReLU; rows n 1, s 1, k 3, ReLU for depthwise
    separable rows and ReLU6 for the others, no SE; head: no conv, scale always, ReLU6, hard-swish,
    dropout 0.2; SE reduction 4 of the expanded width, divisor 8, ReLU, hard-sigmoid; batch norm eps 1e-5
    and momentum 0.1; 3 input channels, divisor 8, expansions not rounded, alpha 1."""
    from flopcalc.family import SE, Family, Head, Stage, Stem
    from flopcalc.spec import Act, Norm
    f = parse({"name": "tiny", "stem": {"c": 8}, "head": {},
               "stages": [{"block": "depthwise_separable", "c": 16, "s": 2},
                          {"block": "inverted_residual", "c": 16, "t": 6},
                          {"block": "mbconv", "c": 24, "exp": 48}]})
    assert f == Family(
        name="tiny", stem=Stem(c=8, k=3, s=2, act=Act.RELU),
        stages=(Stage("depthwise_separable", 16, n=1, s=2, k=3, t=None, exp=None, se=False, act=Act.RELU,
                      residual=None),
                Stage("inverted_residual", 16, n=1, s=1, k=3, t=6.0, exp=None, se=False, act=Act.RELU6,
                      residual=None),
                Stage("mbconv", 24, n=1, s=1, k=3, t=None, exp=48, se=False, act=Act.RELU6, residual=None)),
        head=Head(conv=None, conv_scale="always", conv_expand=None, conv_act=Act.RELU6, hidden=None,
                  hidden_scale="always", hidden_act=Act.HARDSWISH, dropout=0.2),
        title="", source="", in_channels=3, divisor=8, round_expansion=False,
        se=SE(reduction=4, of="expanded", divisor=8, act=Act.RELU, gate=Act.HARDSIGMOID),
        norm=Norm(eps=1e-5, momentum=0.1), alpha=1.0)
    assert type(f.stages[1].t) is float and type(f.alpha) is float


def test_the_written_file_opens_with_its_title_and_quotes_what_toml_needs():
    from flopcalc.specfile import loads
    text = write(MODELS["mobilenet_v1"].family)
    assert text.splitlines()[:3] == [
        "# flopcalc spec file: MobileNet V1 (Howard et al. 2017, MobileNets, Table 1)",
        "# Every command that takes a MODEL takes this file: flopcalc table THIS.toml", ""]
    assert ("# block, k: kernel, t: expansion ratio or exp: expanded width, c: output channels, n: repeats,\n"
            "# s: stride of the first, se: squeeze-and-excitation, act: activation\nstages = [\n") in text
    assert 'stem = { c = 32, k = 3, s = 2, act = "relu" }' in text and "alpha = 1.0\n" in text
    assert '  { block = "depthwise_separable", k = 3, c = 64, n = 1, s = 1, act = "relu" },' in text
    odd = replace(MODELS["mobilenet_v1"].family, title='a "quoted" \\ title', source="", alpha=0.3)
    text = write(odd)
    assert text.splitlines()[0] == '# flopcalc spec file: a "quoted" \\ title'
    assert 'title = "a \\"quoted\\" \\\\ title"' in text and "alpha = 0.3\n" in text
    assert loads(text) == odd
    untitled = replace(odd, title="")
    assert write(untitled).splitlines()[0] == "# flopcalc spec file: mobilenet_v1"
    # a row's residual, when set, is written after its other keys, and read back
    v2 = MODELS["mobilenet_v2"].family
    no_skip = replace(v2, stages=(replace(v2.stages[0], residual=False),) + v2.stages[1:])
    text = write(no_skip)
    assert '  { block = "inverted_residual", k = 3, t = 1, c = 16, n = 1, s = 1, act = "relu6", residual = false },' \
        in text.splitlines()
    assert loads(text) == no_skip and loads(write(v2)) == v2


@pytest.mark.parametrize("model, is_file", [("mobilenet_v2", False), ("net.toml", True), ("dir/net", True),
                                            ("dir\\net", True), ("net.tom", False), ("mobilenet_v3_large", False)])
def test_what_looks_like_a_file(model, is_file):
    from flopcalc.specfile import looks_like_file
    assert looks_like_file(model) is is_file


def _doc():
    import tomllib
    return tomllib.loads(GOOD)


INT = "must be an integer >= 1, got 0"
SCALE = "must be one of always, up, never, got 'x'"
ACT = f"must be one of {ACCEPTED_ACTS}, got 'x'"


@pytest.mark.parametrize("section, key, value, message", [
    ("stem", "k", 0, f"stem: k {INT}"), ("stem", "s", 0, f"stem: s {INT}"), ("stem", "act", "x", f"stem: act {ACT}"),
    ("head", "conv", 0, f"head: conv {INT}"), ("head", "conv_scale", "x", f"head: conv_scale {SCALE}"),
    ("head", "conv_act", "x", f"head: conv_act {ACT}"), ("head", "hidden", 0, f"head: hidden {INT}"),
    ("head", "hidden_scale", "x", f"head: hidden_scale {SCALE}"),
    ("head", "hidden_act", "x", f"head: hidden_act {ACT}"),
    ("head", "dropout", False, "head: dropout must be a number in [0, 1), got False"),
    ("head", "dropout", 1, "head: dropout must be a number in [0, 1), got 1"),
    ("se", "reduction", 0, f"se: reduction {INT}"), ("se", "divisor", 0, f"se: divisor {INT}"),
    ("se", "act", "x", f"se: act {ACT}"), ("se", "gate", "x", f"se: gate {ACT}"),
    ("se", "of", 3, "se: of must be one of expanded, input, got 3"),
    ("norm", "momentum", 0, "norm: momentum must be a finite number > 0 and < 1, got 0"),
    (None, "divisor", 0, f"divisor: divisor {INT}"), (None, "source", 3, "source: source must be a string, got 3"),
    (None, "round_expansion", "yes", "round_expansion: round_expansion must be true or false, got 'yes'"),
    ("row", "k", 0, f"stages[1]: k {INT}"), ("row", "residual", 1, "stages[1]: residual must be true or false, got 1"),
    ("row", "act", "x", f"stages[1]: act {ACT}"), ("head", "conv_expand", 0, f"head: conv_expand {INT}"),
])
def test_every_keys_own_error(section, key, value, message):
    """Each key of each table, given a bad value, is named with its table (a parsed document, so
    the messages name the path given to parse)."""
    doc = _doc()
    if section == "row":
        doc["stages"][1][key] = value
    elif section is None:
        doc[key] = value
    else:
        doc.setdefault(section, {})[key] = value
        if key == "conv_expand":
            del doc["head"]["conv"]
    with pytest.raises(SpecError) as e:
        parse(doc, "F")
    assert str(e.value) == f"spec file 'F': {message}"


def test_what_the_limits_let_through():
    from flopcalc.specfile import loads
    doc = _doc()
    doc["head"]["dropout"] = 0      # no dropout is a dropout of 0
    doc["stages"][6]["k"] = 7       # a 7x7 kernel on the last 7x7 map fits
    doc["name"] = "X.v-2_a"         # letters, digits, '_', '-' and '.'
    f = parse(doc)
    assert f.head.dropout == 0.0 and f.stages[6].k == 7 and f.name == "X.v-2_a"
    with pytest.raises(SpecError, match="^spec file '<spec>' is not valid TOML"):  # the name when none is given
        loads("name = \n")
    with pytest.raises(SpecError, match="^spec file '<spec>': stages: is required"):
        parse({"name": "x", "stem": {"c": 8}, "head": {}})


def test_a_depthwise_separable_rows_kernel_is_checked_against_its_map():
    doc = _doc()
    doc["stages"] = [{"block": "depthwise_separable", "c": 16, "s": 2, "k": 9}]
    doc["resolution"] = 14           # stem to 7x7, then the 9x9 depthwise on it
    with pytest.raises(SpecError, match=r"^spec file 'F': stages\[0\]: k = 9: a 9x9 kernel is larger than the 7x7 map"):
        parse(doc, "F")


def test_an_unreadable_file_names_the_system_error(tmp_path):
    (tmp_path / "a.toml").symlink_to(tmp_path / "b.toml")
    (tmp_path / "b.toml").symlink_to(tmp_path / "a.toml")
    with pytest.raises(SpecError, match=r"^spec file '.*a.toml' cannot be read: Too many levels of symbolic links$"):
        read(tmp_path / "a.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SpecError, match=r"^spec file '.*bin.toml' cannot be read: 'utf-8' codec can't decode byte "
                                        r"0xff in position 0: invalid start byte$"):
        read(tmp_path / "bin.toml")


@pytest.mark.parametrize("table, accepted", [
    ("head", "conv, conv_scale, conv_expand, conv_act, hidden, hidden_scale, hidden_act, dropout, hidden_conv"),
    ("se", "reduction, of, divisor, act, gate"), ("stem", "c, k, s, act, scale")])
def test_an_unknown_key_is_named_with_its_table(table, accepted):
    doc = _doc()
    doc.setdefault(table, {})["shade"] = 1
    with pytest.raises(SpecError) as e:
        parse(doc, "F")
    assert str(e.value) == f"spec file 'F': {table}.shade: unknown key; accepted: {accepted}"
    doc = _doc()
    doc[table] = 3
    with pytest.raises(SpecError, match=f"^spec file 'F': {table}: must be a table, got 3$"):
        parse(doc, "F")

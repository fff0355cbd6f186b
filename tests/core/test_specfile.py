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
from support import DATA, ROOT

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
    assert doc["config"]["alpha"] == 0.75 and doc["total"]["params"] == 1_653_920  # torchvision, width 0.75
    assert json.loads(cli("table", str(path), "--alpha", "1", "--format", "json")[1])["total"]["params"] == 2_542_856


@pytest.mark.parametrize("example, tv, alpha", [("efficientnet_b0", "efficientnet_b0", 1.0),
                                                ("mnasnet_b1", "mnasnet1_0", 1.0), ("mnasnet_b1", "mnasnet0_5", 0.5)])
def test_examples_equal_torchvision(example, tv, alpha):
    """torchvision 0.29.1's own counts (tools/make_torchvision_v3_fixtures.py): parameters, and
    FlopCounterMode's flops, two per multiply-add."""
    a = flopcalc.analyze(read(EXAMPLES / f"{example}.toml"), alpha)
    assert a.total.params == TV[tv]["params"]
    assert 2 * a.total.macs == TV[tv]["flop_counter"]["224"]


def test_efficientnet_parameters_have_torchvisions_shapes():
    """The same tensors as torchvision's efficientnet_b0, whose module names differ (its stages
    nest one level deeper): the multiset of learnable parameter shapes is equal."""
    torch = pytest.importorskip("torch")
    from flopcalc.nn import build
    net = build(read(EXAMPLES / "efficientnet_b0.toml"))
    ours = sorted(tuple(p.shape) for p in net.parameters())
    theirs = sorted(tuple(shape) for key, shape in TV["efficientnet_b0"]["state_dict"]
                    if not key.endswith(("running_mean", "running_var", "num_batches_tracked")))
    assert ours == theirs and torch.is_tensor(net(torch.zeros(1, 3, 64, 64)))


GOOD = write(MODELS["mobilenet_v2"].family)
ROW = '{ block = "inverted_residual", k = 3, t = 6, c = 24, n = 2, s = 2, act = "relu6" }'

# (what is wrong, file text, words the one line must hold)
BAD = [
    ("not TOML", "name = \n", ["is not valid TOML", "line 1"]),
    ("unknown top key", "colour = 'red'\n" + GOOD, ["colour: unknown key", "accepted: name"]),
    ("unknown table key", GOOD + "\nshade = 1\n", ["norm.shade: unknown key", "accepted: eps, momentum"]),
    ("missing stages", "name = 'x'\nstem = { c = 8 }\nhead = {}\n", ["stages: is required"]),
    ("channels a string", GOOD.replace("stem = { c = 32", 'stem = { c = "32"'),
     ["stem: c must be an integer >= 1", "'32'"]),
    ("zero channels", GOOD.replace(ROW, ROW.replace("c = 24", "c = 0")),
     ["stages[1]", "c must be an integer >= 1, got 0"]),
    ("zero stride", GOOD.replace(ROW, ROW.replace("s = 2", "s = 0")),
     ["stages[1]", "s must be an integer >= 1, got 0"]),
    ("negative repeats", GOOD.replace(ROW, ROW.replace("n = 2", "n = -2")), ["stages[1]", "n must be", "-2"]),
    ("unknown block", GOOD.replace(ROW, ROW.replace("inverted_residual", "resnet")),
     ["stages[1]", "block must be one of depthwise_separable, inverted_residual, mbconv", "'resnet'"]),
    ("unknown row key", GOOD.replace(ROW, ROW.replace(" }", ", groups = 2 }")), ["stages[1].groups: unknown key"]),
    ("unknown activation", GOOD.replace(ROW, ROW.replace('"relu6" }', '"gelu" }')),
     ["stages[1]", "act must be one of relu, relu6", "'gelu'"]),
    ("impossible residual", GOOD.replace(ROW, ROW.replace(" }", ", residual = true }")),
     ["stages[1]", "a residual needs stride 1 and equal input and output widths", "stride 2"]),
    ("kernel larger than the map", GOOD.replace('{ block = "inverted_residual", k = 3, t = 6, c = 320',
                                                '{ block = "inverted_residual", k = 9, t = 6, c = 320'),
     ["stages[6]", "k = 9", "larger than the 7x7 map", "resolution 224"]),
    ("even kernel", GOOD.replace(ROW, ROW.replace("k = 3", "k = 4")), ["stages[1]", "k must be odd", "got 4"]),
    ("no expansion", GOOD.replace(ROW, ROW.replace("t = 6, ", "")),
     ["stages[1]", "t (the expansion ratio) is required"]),
    ("t and exp", GOOD.replace(ROW, ROW.replace("inverted_residual", "mbconv").replace("t = 6", "t = 6, exp = 144")),
     ["stages[1]", "give t", "not both"]),
    ("dropout", GOOD.replace("dropout = 0.2", "dropout = 1.5"), ["head", "dropout must be a number in [0, 1)", "1.5"]),
    ("head conv twice", GOOD.replace("conv = 1280,", "conv = 1280, conv_expand = 6,"), ["head", "not both"]),
    ("se base", GOOD.replace('of = "expanded"', 'of = "output"'),
     ["se", "of must be one of expanded, input", "'output'"]),
    ("negative eps", GOOD.replace("eps = 1e-05", "eps = -1.0"), ["norm", "eps must be a number > 0", "-1.0"]),
    ("alpha zero", GOOD.replace("alpha = 1.0", "alpha = 0"), ["alpha", "must be a number > 0", "got 0"]),
    ("name", GOOD.replace('name = "mobilenet_v2"', 'name = "my net"'), ["name", "'my net'"]),
    ("empty stages", 'name = "x"\nstem = { c = 8 }\nstages = []\nhead = {}\n', ["stages", "non-empty list"]),
    ("row not a table", GOOD.replace(ROW, "[3, 6, 24, 2, 2]"), ["stages[1]", "must be a table"]),
]


@pytest.mark.parametrize("what, text, words", BAD, ids=[b[0] for b in BAD])
def test_bad_spec_file_is_one_line_exit_2(what, text, words, tmp_path, cli):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SpecError) as e:
        read(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)
    code, out, err = cli("table", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert f"spec file '{path}'" in err
    for w in words:
        assert w in err, (w, err)


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

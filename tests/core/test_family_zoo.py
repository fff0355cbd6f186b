"""EfficientNet B0-B7 and MnasNet in the zoo against torchvision 0.29.1, recorded live by
tools/make_family_fixtures.py (tests/data/family_fixtures.json): parameters, multiply-adds
(FlopCounterMode's total over 2) at the published resolution and two others, and every module's output
shape, for every published variant and for widths and depths no torchvision builder has. Torch-free:
the analytical walk only. (State dict keys and outputs: tests/nn/test_family_parity.py.)"""

from __future__ import annotations

import json
import math

import pytest

import flopcalc
from flopcalc.errors import UserError
from flopcalc.zoo import MODELS, get_spec, with_depth

from support import DATA

FIXTURE = json.loads((DATA / "family_fixtures.json").read_text())
CASES = {c["name"]: c for c in FIXTURE["cases"]}


@pytest.mark.parametrize("name", CASES)
def test_params_and_macs_equal_torchvisions(name):
    c = CASES[name]
    for resolution, macs in c["macs"].items():
        a = flopcalc.analyze(c["model"], alpha=c["width"], depth_mult=c["depth"], resolution=int(resolution))
        assert (a.total.params, a.total.macs) == (c["params"], macs), resolution


@pytest.mark.parametrize("name", CASES)
def test_every_modules_output_shape_is_torchvisions(name):
    """Every module torchvision has and flopcalc has a row for, by its qualified name; every module with
    parameters among them. (EfficientNet's ``avgpool`` module keeps (C, 1, 1) and its forward flattens
    that; flopcalc's pool row is the two, as for the MobileNets: compared flattened.)"""
    c = CASES[name]
    a = flopcalc.analyze(c["model"], alpha=c["width"], depth_mult=c["depth"], resolution=c["resolution"])
    ours = {r.name: list(r.output_shape) for r in a.layers}
    if c["shapes"].get("avgpool", [])[1:] == [1, 1]:
        ours["avgpool"] += [1, 1]
    keys = {k.rsplit(".", 1)[0] for k, _ in c["state_dict"]}
    assert keys <= set(ours)
    shared = [n for n in c["shapes"] if n in ours]
    assert len(shared) >= len(keys)
    assert {n: ours[n] for n in shared} == {n: c["shapes"][n] for n in shared}


def test_the_variants_are_the_papers_compound_scaling():
    """Table 2's width, depth and resolution per variant (the paper's), and repeats ceil(n * depth)."""
    scaling = {f"efficientnet_b{i}": s for i, s in enumerate(
        [(1.0, 1.0, 224), (1.0, 1.1, 240), (1.1, 1.2, 260), (1.2, 1.4, 300), (1.4, 1.8, 380), (1.6, 2.2, 456),
         (1.8, 2.6, 528), (2.0, 3.1, 600)])}
    for name, (w, d, r) in scaling.items():
        f = MODELS[name].family
        assert (f.alpha, f.depth, f.resolution) == (w, d, r)
        stages = get_spec(name, w).items[0][1].items[1:8]
        assert [len(s.items) for _, s in stages] == [math.ceil(row.n * d) for row in f.stages]
        assert flopcalc.analyze(name).config["resolution"] == [r, r]


def test_a_depth_multiplier_changes_only_the_repeats():
    b0 = flopcalc.analyze("efficientnet_b0")
    deeper = flopcalc.analyze("efficientnet_b0", depth_mult=2.0)
    assert deeper.config["depth_mult"] == 2.0 and "depth_mult" not in b0.config
    assert len(deeper.layers) > len(b0.layers) and deeper.total.macs > b0.total.macs
    v2 = flopcalc.analyze("mobilenet_v2", depth_mult=1.0)
    assert v2.total == flopcalc.analyze("mobilenet_v2").total  # 1.0: the paper's table itself


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), 1e9, "two", True])
def test_a_bad_depth_multiplier_is_one_line(bad):
    with pytest.raises(UserError) as e:
        with_depth("efficientnet_b0", bad)
    assert "depth multiplier must be a finite number > 0 and at most 20" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("path, model", [("efficientnet_b0.toml", "efficientnet_b0"), ("mnasnet_b1.toml", "mnasnet")])
def test_the_example_spec_files_are_the_zoos_models(path, model):
    """They stay as examples of the format, and describe exactly the zoo's network (names included)."""
    from flopcalc.specfile import read
    from support import ROOT
    f = read(ROOT / "examples" / path)
    for alpha in (0.5, 1.0, 1.3):
        assert get_spec(f, alpha).items == get_spec(model, alpha).items


def test_every_analytical_command_takes_a_depth_multiplier(cli):
    """table, reconcile, sweep and spec count EfficientNet-B0 at depth 2 alike (the torch commands, verify,
    train and bench, take the same MODEL argument: tests/nn/test_family_parity.py)."""
    want = flopcalc.analyze("efficientnet_b0", depth_mult=2.0).total
    code, out, _ = cli("table", "efficientnet_b0", "--depth-mult", "2", "--format", "json")
    assert code == 0 and json.loads(out)["total"]["macs"] == want.macs and json.loads(out)["config"]["depth_mult"] == 2
    code, out, _ = cli("reconcile", "efficientnet_b0", "--depth-mult", "2", "--format", "json")
    assert code == 0 and str(want.macs) in out
    code, out, _ = cli("sweep", "efficientnet_b0", "--depth-mult", "2", "--alpha", "1.0", "--resolution", "224",
                       "--format", "json")
    point, = json.loads(out)["configs"]
    assert code == 0 and point["macs"] == want.macs and point["top1"] is None  # B0's top-1 is not for this network
    code, out, _ = cli("spec", "efficientnet_b0", "--depth-mult", "2")
    assert code == 0 and "depth = 2.0" in out


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "1e9", "two"])
def test_a_bad_depth_multiplier_on_the_command_line_is_one_line_exit_2(cli, value):
    code, out, err = cli("table", "efficientnet_b0", "--depth-mult", value)
    assert code == 2 and out == "" and err == (
        f"flopcalc table: error: argument --depth-mult: depth multiplier must be a finite number > 0 and at most 20, "
        f"got {value!r}\n")


def test_a_depth_multiplier_for_a_recorded_module_is_refused(cli):
    code, _, err = cli("table", "package.module:make", "--depth-mult", "2")
    assert code == 2 and err.count("\n") == 1 and "--depth-mult 2 needs a zoo model or a spec file" in err


HYBRID_ROWS = '''name = "tiny_hybrid"
layer_scale = true
stem = { c = 16, k = 3, s = 2 }
stages = [
  { block = "uib", a = 3, k = 3, t = 2, c = 24, s = 2 },
  { block = "mqa", heads = 4, key_dim = 8, kv_stride = 2, c = 24 },
  %s
]
head = { hidden = 64, hidden_conv = true, hidden_act = "relu", dropout = 0.0 }
'''


def test_a_spec_file_writes_the_hybrids_attention(tmp_path):
    """mqa rows and layer_scale read back as the zoo's blocks; without key_dim each head is the channels
    over the heads. The attention's macs by hand: at 64 the stem and the uib leave 16x16 queries; the first
    block's keys and values at stride 2 are 8x8, the second's 16x16."""
    from flopcalc.specfile import loads
    from flopcalc.spec import MobileAttention
    f = loads(HYBRID_ROWS % '{ block = "mqa", heads = 3, c = 24 }')
    a = flopcalc.analyze(f, resolution=64)
    blocks = [b for _, stage in get_spec(f, 1.0).items[0][1].items for b in [stage] if isinstance(b, MobileAttention)]
    assert [(b.heads, b.head_dim, b.kv_stride, b.layer_scale) for b in blocks] == [(4, 8, 2, True), (3, 8, 1, True)]
    attention = [r.macs for r in a.layers if r.kind == "attention"]
    assert attention == [4 * 256 * 64 * (8 + 8), 3 * 256 * 256 * (8 + 8)]
    assert sum(r.params for r in a.layers if r.kind == "layer_scale") == 24 * 3  # the uib and both mqa blocks


@pytest.mark.parametrize("row, message", [
    ('{ block = "mqa", heads = 5, c = 24 }',
     "stages[2]: attention of 5 heads over 24 channels: the heads must divide the channels (or give key_dim, "
     "each head's width)"),
    ('{ block = "mqa", c = 24 }', "stages[2]: heads (the attention's query heads) is required"),
    ('{ block = "mqa", heads = 4, c = 24, s = 2 }', "stages[2]: s must be 1: an mqa block keeps the map's size, got 2"),
    ('{ block = "mqa", heads = 4, c = 24, kv_stride = 0 }', "stages[2]: kv_stride must be an integer >= 1, got 0"),
    ('{ block = "mqa", heads = 4, c = 24, k = 4 }', "stages[2]: k must be odd (a centred kernel), got 4"),
    ('{ block = "mqa", heads = 4, c = 24, act = "relu" }', "stages[2].act: unknown key; accepted: block, heads"),
])
def test_a_bad_attention_row_is_one_line_exit_2(tmp_path, cli, row, message):
    path = tmp_path / "hybrid.toml"
    path.write_text(HYBRID_ROWS % row)
    code, out, err = cli("table", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err, err


def test_a_width_whose_channels_the_heads_do_not_divide_is_one_line(tmp_path, cli):
    """At alpha 1 the 24 channels take 4 heads; at 0.5 make_divisible leaves 16, which 3 heads do not divide."""
    path = tmp_path / "hybrid.toml"
    path.write_text(HYBRID_ROWS % '{ block = "mqa", heads = 3, c = 24 }')
    assert cli("table", str(path), "--alpha", "1.0")[0] == 0
    code, out, err = cli("table", str(path), "--alpha", "0.5")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "attention of 3 heads over 16 channels: the heads must divide the channels" in err


def test_the_hybrids_are_timms_counted_by_every_tool():
    """timm's mobilenetv4_hybrid_medium at 256, counted live by the tools (tools/model_counts.py --zoo timm,
    reports/timm_counts.md): params and flopcalc's macs, and FlopCounterMode's total (on torch 2.14, whose
    fused CPU kernel runs multi-query attention: conv and linear only)."""
    import flopcalc.capture as capture
    a = flopcalc.analyze("mobilenet_v4_hybrid_medium")
    assert (a.total.params, a.total.macs) == (11_074_648, 1_271_183_360)
    attention = a.by_kind["attention"].macs
    assert 2 * (a.total.macs - attention) == 2_458_480_640
    assert attention == 4 * (4 * 256 * 64 * 128) + 4 * (4 * 64 * 64 * 128)  # 4 blocks at 16x16 (kv 8x8), 4 at 8x8
    assert capture._before_2_14("2.13.0+cpu") and not capture._before_2_14("2.14.1+cu130")

"""flopcalc verify: agreement on the grid, and that it does catch a wrong figure."""

from __future__ import annotations

import json

import flopcalc

import pytest


from flopcalc.costs import COST_FORMULAS, LayerCost  # noqa: E402
from flopcalc.nn.verify import verify  # noqa: E402
from flopcalc.spec import BatchNorm2d, Conv2d  # noqa: E402


@pytest.mark.slow
def test_grid_agrees_exactly(cli):
    """The issue's acceptance run: the MobileNets x 5 alphas x 5 resolutions, every layer and block; and
    every zoo model (EfficientNet B0-B7 at their depths, MnasNet, MobileNetV4 too) at one config, as the
    default grid runs them all (400 configs, minutes: the same code per config)."""
    from flopcalc.nn.verify import verify_grid
    from flopcalc.views.verify import verify_grid_document
    mobilenets = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small"]
    doc = verify_grid_document(verify_grid(mobilenets)).data
    assert doc["ok"] is True and len(doc["configs"]) == 100
    assert {(c["model"], c["config"]["alpha"], tuple(c["config"]["resolution"])) for c in doc["configs"]} == {
        (m, a, (r, r)) for m in mobilenets for a in (0.35, 0.5, 0.75, 1.0, 1.4)
        for r in (96, 128, 160, 192, 224)}
    code, out, err = cli("verify", "--grid", "--alpha", "1.0", "--resolution", "96", "--format", "json")
    every = json.loads(out)
    assert code == 0 and err == "" and every["ok"] is True
    assert [c["model"] for c in every["configs"]] == list(flopcalc.MODELS)
    v2 = next(c for c in doc["configs"]
              if (c["model"], c["config"]["alpha"], c["config"]["resolution"]) == ("mobilenet_v2", 1.0, [224, 224]))
    assert (v2["params"], v2["macs"]) == (3_504_872, 300_774_272)
    # fvcore's own total for torchvision's V2 (tests/data): conv + linear + batch norm + pool
    assert v2["fvcore"] == 299_494_272 + 1_280_000 + 13_356_224 + 62_720
    assert v2["flop_counter"] == 2 * 300_774_272


def test_report_names_what_fvcore_cannot_count():
    r = verify("mobilenet_v2", 0.5, 96)
    assert r.ok
    assert r.unsupported == {"aten::add": 10, "aten::hardtanh_": 35}  # residual adds, ReLU6
    r1 = verify("mobilenet_v1", 0.5, 96)
    assert r1.ok and r1.unsupported == {}  # ReLU is on fvcore's ignore list


def test_single_report_plain_and_reference(cli):
    code, out, _ = cli("verify", "mobilenet_v2", "--alpha", "0.5", "--resolution", "96",
                       "--reference")
    assert code == 0
    assert "all " in out.splitlines()[0] and "checks agree" in out.splitlines()[0]
    assert "features.3.add" in out and "aten::hardtanh_ x35 (ReLU6)" in out
    assert "Outputs equal torch's on all 152 layers" in out
    assert "multiply zero padding" in out and "MISMATCH" not in out


def test_single_report_json(cli):
    code, out, _ = cli("verify", "mobilenet_v1", "--alpha", "0.25", "--resolution", "64",
                       "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True
    first = doc["layers"][0]
    assert first["name"] == "features.0.0" and first["ok"] is True
    assert set(first["checks"]) == {"shape", "params", "fvcore", "flop_counter"}
    assert first["checks"]["shape"] == {"expected": [8, 32, 32], "measured": [8, 32, 32]}


def off_by_one_depthwise(monkeypatch):
    honest = COST_FORMULAS[Conv2d]

    def wrong(layer, x):
        c = LayerCost(*honest(layer, x))
        return LayerCost(c.kind, c.output_shape, c.params, c.macs + (1 if c.kind == "depthwise" else 0))
    monkeypatch.setitem(COST_FORMULAS, Conv2d, wrong)


def test_a_wrong_conv_formula_is_caught(monkeypatch, cli):
    off_by_one_depthwise(monkeypatch)
    code, out, _ = cli("verify", "mobilenet_v2", "--alpha", "0.35", "--resolution", "64")
    assert code == 1
    line = next(l for l in out.splitlines() if l.startswith("features.1.conv.0.0 "))
    assert "MISMATCH fvcore: flopcalc" in line and "flop_counter: flopcalc" in line
    assert "checks DISAGREE" in out.splitlines()[0]


def test_a_wrong_param_count_is_caught(monkeypatch):
    honest = COST_FORMULAS[BatchNorm2d]
    monkeypatch.setitem(COST_FORMULAS, BatchNorm2d, lambda l, x: LayerCost(
        "batchnorm", x, LayerCost(*honest(l, x)).params + 1, 0))
    r = verify("mobilenet_v1", 0.25, 32)
    assert not r.ok
    assert {(name, c.quantity) for name, c in r.mismatches} >= {("features.0.1", "params"), ("model", "params")}


def test_a_wrong_shape_is_caught(monkeypatch):
    honest = COST_FORMULAS[Conv2d]
    monkeypatch.setitem(COST_FORMULAS, Conv2d, lambda l, x: (lambda c: LayerCost(
        c.kind, (c.output_shape[0], c.output_shape[1] + (l.stride == 2), c.output_shape[2]),
        c.params, c.macs))(LayerCost(*honest(l, x))))
    r = verify("mobilenet_v2", 0.35, 64)  # one row too many after every stride-2 conv
    assert ("features.0.0", "shape") in {(n, c.quantity) for n, c in r.mismatches}


def test_grid_mismatch_exits_1(monkeypatch, cli):
    off_by_one_depthwise(monkeypatch)
    code, out, _ = cli("verify", "--grid", "mobilenet_v1", "--alpha", "0.25", "--resolution", "32")
    assert code == 1 and "MISMATCHES" in out and "1 of 1 configs DISAGREE" in out


@pytest.mark.parametrize("argv, words", [
    (["verify", "mobilenet_v2", "--alpha", "300"], ["needs about", "GB", "--max-memory"]),
    (["verify", "mobilenet_v2", "--resolution", "60000"], ["needs about", "largest activation"]),
    (["verify", "mobilenet_v1", "--max-memory", "1000000"], ["needs about", "over the limit of 1,000,000 bytes"]),
    (["verify", "mobilenet_v2", "--resolution", "2000", "--reference", "--max-memory", "8000000000"],
     ["every layer's output kept for --reference"]),
    (["verify", "--grid", "--alpha", "500"], ["needs about"]),
    (["verify"], ["MODEL is required unless --grid"]),
    (["verify", "mobilenet_v2", "--alpha", "0"], ["'0'", "> 0"]),
    (["verify", "mobilenet_v3"], ["'mobilenet_v3'", "mobilenet_v2"]),
    (["verify", "mobilenet_v2", "--max-memory", "lots"], ["'lots'", "integer >= 1"]),
])
def test_verify_refusals_are_one_line(cli, argv, words):
    code, out, err = cli(*argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    for w in words:
        assert w in err, (w, err)


def test_a_module_the_analyzer_does_not_know_is_caught(monkeypatch):
    from torch import nn

    import flopcalc.nn.verify as verify_module
    real = verify_module.build

    def with_extra(spec, *args, **kwargs):
        net = real(spec, *args, **kwargs)
        net.add_module("extra", nn.Identity())  # built, never analyzed
        return net
    monkeypatch.setattr(verify_module, "build", with_extra)
    r = verify("mobilenet_v1", 0.25, 32)
    assert [(n, c.quantity) for n, c in r.mismatches] == [("model", "modules")]

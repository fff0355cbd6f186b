"""Every peer counter, run live on flopcalc's own models, prints exactly the number its
convention predicts: fvcore, FlopCounterMode, ptflops (both backends), thop, torchinfo, Keras.
Skipped per tool when it is not installed (CI installs flopcalc[peers])."""

from __future__ import annotations


import pytest


import flopcalc  # noqa: E402
from flopcalc.conventions import CONVENTIONS  # noqa: E402
from flopcalc.nn import peers  # noqa: E402
from flopcalc.zoo import MODELS  # noqa: E402
from support import ROOT

HERE = peers.available()
# V1 and V2 at standard and odd widths and resolutions (alpha 0.6 at 171 rounds both ways),
# a non-square input and another class count.
CONFIGS = [("mobilenet_v1", 1.0, 224, None), ("mobilenet_v2", 1.0, 224, None),
           ("mobilenet_v1", 0.6, 171, None), ("mobilenet_v2", 0.6, 171, None),
           ("mobilenet_v1", 0.35, 96, 10), ("mobilenet_v2", 1.4, 64, None),
           ("mobilenet_v2", 0.75, (160, 96), 17), ("mobilenet_v2", 0.56, 48, None),
           ("mobilenet_v3_large", 0.75, 160, None), ("mobilenet_v3_small", 1.0, 96, 10),
           ("examples/efficientnet_b0.toml", 1.0, 64, None),  # SiLU and a sigmoid gate
           ("mobilenet_v4_hybrid_medium", 1.0, 64, None),  # multi-query attention, layer scale
           ("mobilenet_v4_hybrid_large", 0.5, 64, 10)]     # and GELU
LIVE = [c for c in CONVENTIONS.values() if c.live and c.live not in peers.FILE_TOOLS]  # onnx-tool: ONNX files


@pytest.mark.parametrize("conv", LIVE, ids=lambda c: c.name)
@pytest.mark.parametrize("model, alpha, resolution, classes", CONFIGS, ids=lambda v: str(v))
def test_tool_prints_the_predicted_numbers(conv, model, alpha, resolution, classes):
    if not HERE[conv.live]:
        pytest.skip(f"{conv.live} is not installed")
    if model.endswith(".toml"):
        if conv.name == "keras":
            pytest.skip("a spec file's network has no Keras counterpart")
        from flopcalc.specfile import read
        model = read(ROOT / model)
    elif conv.name == "keras" and not MODELS[model].keras:
        pytest.skip(f"{model} has no Keras counterpart")
    predicted = flopcalc.analyze(model, alpha, resolution, classes, convention=conv.name)
    n_classes = predicted.config["num_classes"]
    if conv.name == "torchprofile" and predicted.by_kind.get("attention"):
        # its handler for aten::scaled_dot_product_attention asserts that the keys and values have the
        # queries' heads: multi-query attention shares one (timm's MobileNetV4 hybrids fail the same way)
        with pytest.raises(AssertionError):
            peers.measure(conv.live, model, alpha, resolution, n_classes, conv.rounding)
        return
    params, ops = peers.measure(conv.live, model, alpha, resolution, n_classes, conv.rounding)
    assert type(params) in (int, type(None)) and type(ops) in (int, type(None))
    assert params == predicted.total.params
    reported = None if predicted.total.macs is None else predicted.total.macs * conv.flops_per_mac
    assert ops == reported


@pytest.mark.parametrize("conv", [c for c in LIVE if c.name != "keras"], ids=lambda c: c.name)
@pytest.mark.parametrize("model", ["mobilenet_v2", "mobilenet_v3_small", "examples/efficientnet_b0.toml"])
def test_tool_prints_the_predicted_numbers_for_a_batch(conv, model):
    """A batch of 3: most tools print the whole batch's count; ptflops averages what its module hooks
    count over the images but not what its replaced functions (F.relu, F.silu, the pool) count."""
    if not HERE[conv.live]:
        pytest.skip(f"{conv.live} is not installed")
    if model.endswith(".toml"):
        from flopcalc.specfile import read
        model = read(ROOT / model)
    predicted = flopcalc.analyze(model, 1.0, 64, None, batch=3, convention=conv.name)
    params, ops = peers.measure(conv.live, model, 1.0, 64, predicted.config["num_classes"], conv.rounding, batch=3)
    assert params == predicted.total.params
    assert ops == (None if predicted.total.macs is None else predicted.total.macs * conv.flops_per_mac)


def test_reconcile_live_agrees_and_exits_0(cli):
    code, out, err = cli("reconcile", "mobilenet_v2", "--alpha", "0.5", "--resolution", "96", "--live")
    assert code == 0, err
    assert "DIFFERS" not in out
    ran = sum(HERE[c.live] for c in LIVE)
    assert f"live: {ran} counters ran on the model; every one printed exactly the predicted numbers" in out


def test_reconcile_live_marks_a_disagreement(cli, monkeypatch):
    """A wrong rule is caught: ptflops' ReLU6 charged twice, as its ReLU is."""
    if not HERE["ptflops"]:
        pytest.skip("ptflops is not installed")
    from flopcalc import conventions
    monkeypatch.setattr(conventions, "PTFLOPS_FUNCTIONS", conventions.PTFLOPS_FUNCTIONS | {"relu6"})
    monkeypatch.setattr(peers, "available", lambda: {t: t in ("ptflops", "fvcore") for t in peers.MODULES})
    code, out, _ = cli("reconcile", "mobilenet_v2", "--alpha", "0.35", "--resolution", "64", "--live")
    assert code == 1
    line = next(l for l in out.splitlines() if l.startswith("ptflops "))
    assert line.rstrip().endswith("DIFFERS") and "DIFFER from the prediction: ptflops" in out
    assert "not installed: " in out and "thop" in out.split("not installed: ")[1]


def test_live_without_the_tools_names_the_extra(cli, monkeypatch):
    monkeypatch.setattr(peers, "available", lambda: {t: t in ("fvcore", "flop_counter") and False
                                                     for t in peers.MODULES})
    code, out, err = cli("reconcile", "mobilenet_v1", "--live")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "pip install 'flopcalc[peers]'" in err

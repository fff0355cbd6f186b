"""MobileNetV3 Large and Small against torchvision 0.29.1, recorded live by
tools/make_torchvision_v3_fixtures.py (tests/data/torchvision_mobilenet_v3*.json / .pt):
parameters, FlopCounterMode and fvcore counts at 4 widths x 5 resolutions, module names,
state_dict keys and shapes, and a checkpoint torchvision wrote, loaded strictly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import flopcalc
from flopcalc.walk import count_layers as plain
from flopcalc.conventions import FVCORE

DATA = Path(__file__).parent / "data"
TV = json.loads((DATA / "torchvision_mobilenet_v3.json").read_text())["models"]
CASES = [(m, w) for m in TV for w in TV[m]]


@pytest.mark.parametrize("model, width", CASES)
def test_counts_equal_torchvisions(model, width):
    tv = TV[model][width]
    for res, flops in tv["flop_counter"].items():
        a = plain(model, float(width), int(res))
        assert a.total.params == tv["params"]
        assert 2 * a.total.macs == flops, (res, a.total.macs)  # FlopCounterMode: 2 per multiply-add
        ops = tv["fvcore"][res]
        of = lambda *kinds: [r for r in a.layers if r.kind in kinds]  # noqa: E731
        assert FVCORE.total(of("batchnorm")) == ops["batch_norm"]
        assert FVCORE.total(of("pool")) == ops["adaptive_avg_pool2d"]  # the SE pools and the head's
        assert FVCORE.total(of("conv", "depthwise", "pointwise")) == ops["conv"]  # SE 1x1 convs included
        assert FVCORE.total(of("linear")) == ops["linear"]


def test_published_torchvision_figures():
    """torchvision's weights metadata: 5,483,032 params and _ops 0.217 (Large), 2,542,856 and 0.057 (Small)."""
    assert flopcalc.analyze("mobilenet_v3_large").total == flopcalc.Total(5_483_032, 216_589_760)
    assert flopcalc.analyze("mobilenet_v3_small").total == flopcalc.Total(2_542_856, 56_510_400)


def test_leaf_modules_are_torchvisions():
    """Every torchvision leaf module, by name, in flopcalc's analysis; flopcalc adds only the
    parameter-free residual adds (features.N.add) and SE multiplies (....scale) as modules."""
    for model in TV:
        tv = [name for name, _ in TV[model]["1.0"]["structure"]["leaf_modules"]]
        ours = [r.name for r in plain(model).layers]
        extra = [n for n in ours if n not in set(tv)]
        assert set(tv) <= set(ours)
        assert all(n.endswith((".add", ".scale")) for n in extra) and extra
        # the same order, except that torchvision registers an SE's activation after fc2 and runs it before
        assert [n for n in ours if n in set(tv) and "fc" not in n and "activation" not in n] == \
            [n for n in tv if "fc" not in n and "activation" not in n]


torch = pytest.importorskip("torch")
from flopcalc.nn import build  # noqa: E402


@pytest.mark.parametrize("model, width", CASES)
def test_state_dict_is_torchvisions(model, width):
    net = build(model, alpha=float(width))
    assert [[k, list(v.shape)] for k, v in net.state_dict().items()] == TV[model][width]["state_dict"]


def test_batch_norm_is_torchvisions():
    net = build("mobilenet_v3_small")
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    (recorded,) = TV["mobilenet_v3_small"]["1.0"]["structure"]["batch_norm"]
    assert {(m.eps, m.momentum) for m in bns} == {(recorded["eps"], recorded["momentum"])} == {(0.001, 0.01)}
    assert len(bns) == recorded["count"] == 34


@pytest.mark.parametrize("model", ["mobilenet_v3_large", "mobilenet_v3_small"])
def test_torchvision_checkpoint_loads_strictly_and_gives_the_same_outputs(model):
    ckpt = torch.load(DATA / f"torchvision_{model}_075_c10.pt", weights_only=True)
    net = build(model, alpha=0.75, num_classes=10).eval()
    net.load_state_dict(ckpt["state_dict"], strict=True)
    with torch.no_grad():
        out = net(ckpt["input"])
    # equal up to float32 rounding: the summation order, so the last bits, depend on the CPU's kernels and
    # the thread count (torchvision wrote the output on another run); a wrong weight moves it by far more
    torch.testing.assert_close(out, ckpt["output"], rtol=1e-5, atol=1e-6)
    assert out[0].sub(out[1]).abs().max() > 1e-3  # the two inputs give different outputs: the test can fail

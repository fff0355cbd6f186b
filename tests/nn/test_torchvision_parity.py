"""MobileNetV3 Large and Small against torchvision 0.29.1, recorded live by
tools/make_torchvision_v3_fixtures.py (tests/data/torchvision_mobilenet_v3*.json / .pt):
the built models' state_dict keys and shapes, batch norm, and a checkpoint torchvision wrote, loaded
strictly. (The counts and module names, torch-free: tests/core/test_torchvision_counts.py.)"""

from __future__ import annotations


import pytest


from support import DATA, torchvision_v3

TV = torchvision_v3()
CASES = [(m, w) for m in TV for w in TV[m]]

import torch  # noqa: E402
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

"""EfficientNet B0-B7 and MnasNet built by flopcalc against torchvision 0.29.1, recorded live by
tools/make_family_fixtures.py (tests/data/family_fixtures.json): every state_dict key with its shape in
torchvision's order, a state_dict of torchvision's shapes loaded strictly, batch norm's settings, and the
outputs of flopcalc's model loaded with a torchvision model's random weights against that model's (the
tool ran both; torchvision does not import beside the test suite's torch)."""

from __future__ import annotations

import json

import pytest
import torch

from flopcalc.nn import build
from flopcalc.zoo import with_depth

from support import DATA

FIXTURE = json.loads((DATA / "family_fixtures.json").read_text())
CASES = {c["name"]: c for c in FIXTURE["cases"]}


def _built(c):
    return build(with_depth(c["model"], c["depth"]), alpha=c["width"])


@pytest.mark.parametrize("name", CASES)
def test_state_dict_is_torchvisions_and_loads_strictly(name):
    c = CASES[name]
    net = _built(c)
    assert [[k, list(v.shape)] for k, v in net.state_dict().items()] == c["state_dict"]
    torch.manual_seed(0)
    theirs = {k: torch.randn(shape) if shape else torch.tensor(1) for k, shape in c["state_dict"]}
    net.load_state_dict(theirs, strict=True)
    assert sorted({(m.eps, m.momentum) for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)}) == [
        tuple(p) for p in c["batch_norm"]]


@pytest.mark.parametrize("name", CASES)
def test_outputs_equal_torchvisions_on_the_same_weights(name):
    """Recorded by the tool: the largest difference of the two models' outputs, beside their spread."""
    d = CASES[name]["output_difference"]
    assert d["max_abs"] <= 1e-5 and d["output_spread"] > 1e-2


@pytest.mark.parametrize("model", ["mobilenet_v4_hybrid_medium", "mobilenet_v4_hybrid_large", "efficientnet_b0",
                                   "mnasnet", "mobilenet_v4_conv_small", "mobilenet_v3_small"])
def test_the_state_dict_predicted_without_torch_is_the_built_ones(model):
    """What predict matches a checkpoint against (training.infer.expected_state_dict) is the built model's."""
    from flopcalc.training.infer import expected_state_dict
    from flopcalc.zoo import get_spec
    spec = get_spec(model, 0.75)
    assert sorted(expected_state_dict(spec)) == sorted((k, tuple(v.shape)) for k, v in build(spec).state_dict().items())

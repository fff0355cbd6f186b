"""Spec validation: a spec that cannot describe a layer is refused with one line."""

from __future__ import annotations

import pytest

from flopcalc.spec import Act, Activation, BatchNorm2d, Conv2d, Dropout, InvertedResidual, Linear, SpecError


def test_spec_validation():
    with pytest.raises(SpecError, match="groups=3 must divide"):
        Conv2d(8, 8, 3, groups=3)
    with pytest.raises(SpecError, match="kernel must be an integer >= 1, got 0"):
        Conv2d(8, 8, 0)
    with pytest.raises(SpecError, match="in_c must be an integer >= 1, got True"):
        Conv2d(True, 8, 1)
    assert Conv2d(8, 8, 5, dilation=2).padding == 4
    assert BatchNorm2d(4).affine and Activation(Act.RELU6).fn == "relu6"
    with pytest.raises(SpecError, match="p must be a number in"):
        Dropout(1.0)
    with pytest.raises(SpecError, match="out_features must be an integer >= 1"):
        Linear(8, 0)


def test_inverted_residual_rules():
    """V2 paper: residual only at stride 1 with equal widths; no expansion conv when t = 1."""
    assert InvertedResidual(24, 24, 1, 6).residual
    assert not InvertedResidual(24, 24, 2, 6).residual
    assert not InvertedResidual(16, 24, 1, 6).residual
    assert InvertedResidual(24, 24, 1, 6).hidden == 144
    names = [n for n, _ in InvertedResidual(32, 16, 1, 1).children()[0][1].children()]
    assert names == ["0", "1", "2"]  # depthwise triple, projection, batch norm

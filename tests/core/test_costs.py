"""Cost formulas against brute-force counts and the V1 paper's eq. (5)."""

from __future__ import annotations

from fractions import Fraction
from itertools import product

import pytest
from hypothesis import given, strategies as st

from flopcalc.costs import COST_FORMULAS, ShapeError, conv2d_padding_macs, layer_cost, out_size
from flopcalc.spec import (LAYER_TYPES, BatchNorm2d, Conv2d, Linear)
from flopcalc.operations import OP_TYPES
from flopcalc import separable
from strategies import conv_case, separable_args


def window_positions(d_in: int, k: int, s: int, p: int, d: int) -> int:
    """Brute force: slide a dilated k-tap window over the padded input, one step of s."""
    span = d * (k - 1) + 1
    return sum(1 for start in range(0, d_in + 2 * p, s) if start + span <= d_in + 2 * p)


@given(st.integers(1, 80), st.integers(1, 7), st.integers(1, 4), st.integers(0, 4), st.integers(1, 3))
def test_out_size_counts_window_positions(d_in, k, s, p, d):
    assert max(out_size(d_in, k, s, p, d), 0) == window_positions(d_in, k, s, p, d)


def brute_conv(conv: Conv2d, x):
    """Enumerate every (output channel, output position, input channel of its group, tap)
    that the convolution multiplies, and the taps among them that land on padding."""
    m, h, w = x
    oh = window_positions(h, conv.kernel, conv.stride, conv.padding, conv.dilation)
    ow = window_positions(w, conv.kernel, conv.stride, conv.padding, conv.dilation)
    macs = pad = 0
    for _n, y, xx, _c, i, j in product(range(conv.out_c), range(oh), range(ow),
                                       range(m // conv.groups), range(conv.kernel), range(conv.kernel)):
        macs += 1
        r = y * conv.stride - conv.padding + i * conv.dilation
        c = xx * conv.stride - conv.padding + j * conv.dilation
        pad += not (0 <= r < h and 0 <= c < w)
    return (conv.out_c, oh, ow), macs, pad


@given(conv_case(max_channels=4, max_size=10))
def test_conv_cost_equals_enumeration(case):
    conv, x = case
    shape, macs, pad = brute_conv(conv, x)
    cost = layer_cost(conv, x)
    assert cost.output_shape == shape
    assert cost.macs == macs
    assert conv2d_padding_macs(conv, x) == pad
    per_group_in = x[0] // conv.groups
    assert cost.params == conv.kernel ** 2 * per_group_in * conv.out_c + (conv.out_c if conv.bias else 0)


def test_conv_kinds():
    x = (32, 8, 8)
    assert layer_cost(Conv2d(32, 32, 3, groups=32), x).kind == "depthwise"
    assert layer_cost(Conv2d(32, 64, 1), x).kind == "pointwise"
    assert layer_cost(Conv2d(32, 64, 3), x).kind == "conv"
    assert layer_cost(Conv2d(32, 64, 3, groups=4), x).kind == "conv"  # grouped, not depthwise


@given(separable_args)
def test_separable_saving_is_eq5(args):
    """V1 paper eq. (5): (D_K^2 M D_F^2 + M N D_F^2) / (D_K^2 M N D_F^2) = 1/N + 1/D_K^2."""
    k, m, n, d_f, s = args
    if out_size(d_f, k, s, (k - 1) // 2) < 1:
        return
    r = separable(k, m, n, d_f, s)
    assert r.ratio == Fraction(r.separable.macs, r.standard.macs) == Fraction(1, n) + Fraction(1, k * k)
    assert r.closed_form == Fraction(1, n) + Fraction(1, k * k)
    d_out = r.out_size
    assert r.standard.macs == k * k * m * n * d_out * d_out  # eq. (1)
    assert r.separable.macs == k * k * m * d_out * d_out + m * n * d_out * d_out  # eq. (4)


def test_separable_worked_example():
    # The seed's example: 3x3, 128 -> 256 channels on a 56x56 map.
    r = separable(3, 128, 256, 56)
    assert (r.standard.macs, r.separable.macs) == (924_844_032, 106_373_120)
    assert f"{float(r.ratio):.4f}" == "0.1150"


def test_layer_cost():
    c = layer_cost(Linear(1280, 1000), (1280,))
    assert (c.output_shape, c.params, c.macs) == ((1000,), 1_281_000, 1_280_000)
    with pytest.raises(ShapeError, match="1280 features"):
        layer_cost(Linear(1280, 1000), (1024,))


def test_vanishing_map_is_a_shape_error():
    with pytest.raises(ShapeError, match="vanishes"):
        layer_cost(Conv2d(3, 8, 7, padding=0), (3, 5, 5))


def test_channel_mismatch_is_a_shape_error():
    with pytest.raises(ShapeError, match="expects 16 input channels, got 8"):
        layer_cost(Conv2d(16, 8, 1), (8, 4, 4))
    with pytest.raises(ShapeError, match="expects 4 channels"):
        layer_cost(BatchNorm2d(4), (8, 2, 2))


def test_every_layer_type_and_recorded_operation_has_a_cost_formula():
    """The family's layers and the operations only a recorded module runs, each costed once."""
    assert set(COST_FORMULAS) == set(LAYER_TYPES) | set(OP_TYPES) and not set(LAYER_TYPES) & set(OP_TYPES)


def test_registering_a_second_formula_is_refused():
    from flopcalc.costs import cost_formula
    with pytest.raises(RuntimeError, match="already registered"):
        cost_formula(Conv2d)(lambda layer, x: None)


def test_out_size_defaults_are_stride_1_no_padding_no_dilation():
    assert out_size(224, 3) == 222                      # (224 - 3) / 1 + 1
    assert out_size(7, 3, 2) == 3 and out_size(7, 3, padding=1) == 7 and out_size(7, 3, dilation=2) == 3


def test_padding_macs_are_an_int_and_need_a_feature_map():
    # 3x3 stride 1 padding 1 on 4x4, 2 -> 2 channels in groups of 1: each axis has 4 * 3 taps of
    # which 2 fall outside, so 16 * 9 - (10 * 10) = 44 padding taps, each (2 / 1) * 2 = 4 multiply-adds
    got = conv2d_padding_macs(Conv2d(2, 2, 3), (2, 4, 4))
    assert got == 44 * 4 and type(got) is int
    assert conv2d_padding_macs(Conv2d(4, 4, 3, groups=2), (4, 4, 4)) == 44 * 2 * 4
    with pytest.raises(ShapeError, match=r"Conv2d needs a \(C, H, W\) feature map, got shape \(2, 4\)"):
        conv2d_padding_macs(Conv2d(2, 2, 3), (2, 4))

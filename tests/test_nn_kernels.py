"""Property-based kernel checks: one layer spec at a time, the analyzer's shape, params and
count against torch's actual output shape, the module's parameters and fvcore's count."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

torch = pytest.importorskip("torch")

from flopcalc.analyze import walk  # noqa: E402
from flopcalc.conventions import FLOP_COUNTER, FVCORE  # noqa: E402
from flopcalc.nn import build_layer  # noqa: E402
from flopcalc.nn.verify import fvcore_flops  # noqa: E402
from flopcalc.spec import Act, Activation, BatchNorm2d, Dropout, GlobalAvgPool, Linear  # noqa: E402
from strategies import conv_case  # noqa: E402

EXAMPLES = settings(max_examples=60, deadline=None)


def check_layer(layer, x_shape):
    (row,), out_shape = walk(layer, x_shape)
    module = build_layer(layer).eval()
    x = torch.randn(1, *x_shape)
    with torch.no_grad():
        y = module(x)
    assert tuple(y.shape[1:]) == out_shape == row.output_shape
    assert sum(p.numel() for p in module.parameters()) == row.params
    assert fvcore_flops(module, x).total() == FVCORE.count(row)
    from torch.utils.flop_counter import FlopCounterMode
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    assert counter.get_total_flops() == FLOP_COUNTER.count(row)
    return row


@EXAMPLES
@given(conv_case(max_channels=16, max_size=64))
def test_conv2d_kernel(case):
    conv, x_shape = case
    row = check_layer(conv, x_shape)
    assert FVCORE.count(row) == row.macs  # fvcore and the paper agree on convolutions


@EXAMPLES
@given(st.integers(1, 512), st.integers(1, 512), st.booleans())
def test_linear_kernel(m, n, bias):
    row = check_layer(Linear(m, n, bias), (m,))
    assert row.macs == m * n


@EXAMPLES
@given(st.integers(1, 64), st.integers(1, 32), st.integers(1, 32), st.booleans())
def test_batchnorm_kernel(c, h, w, affine):
    row = check_layer(BatchNorm2d(c, affine=affine), (c, h, w))
    assert row.macs == 0 and FVCORE.count(row) == (2 if affine else 1) * c * h * w


@EXAMPLES
@given(st.integers(1, 64), st.integers(1, 32), st.integers(1, 32))
def test_global_avg_pool_kernel(c, h, w):
    row = check_layer(GlobalAvgPool(), (c, h, w))
    assert row.output_shape == (c,) and FVCORE.count(row) == c * h * w


@EXAMPLES
@given(st.sampled_from(list(Act)), st.integers(1, 32), st.integers(1, 16))
def test_activation_kernel(fn, c, h):
    check_layer(Activation(fn), (c, h, h))


def test_dropout_kernel():
    check_layer(Dropout(0.2), (1280,))

"""Property-based kernel checks: one layer spec at a time, the analyzer's shape, params and
count against torch's actual output shape, the module's parameters and fvcore's count."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

import torch

from flopcalc.walk import walk  # noqa: E402
from flopcalc.conventions import FLOP_COUNTER, FVCORE  # noqa: E402
from flopcalc.nn import build_layer  # noqa: E402
from flopcalc.nn.verify import fvcore_flops  # noqa: E402
from flopcalc.nn.builders import build_node  # noqa: E402
from flopcalc.spec import Act, Activation, BatchNorm2d, Dropout, GlobalAvgPool, Linear, SqueezeExcite  # noqa: E402
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
@given(st.integers(1, 64), st.integers(1, 32), st.integers(1, 32))
def test_keepdim_pool_kernel(c, h, w):
    row = check_layer(GlobalAvgPool(keepdim=True), (c, h, w))
    assert row.output_shape == (c, 1, 1) and FVCORE.count(row) == c * h * w


@EXAMPLES
@given(st.sampled_from(list(Act)), st.integers(1, 32), st.integers(1, 16), st.booleans())
def test_activation_kernel(fn, c, h, inplace):
    check_layer(Activation(fn, inplace), (c, h, h))


@EXAMPLES
@given(st.integers(1, 48), st.integers(1, 24), st.integers(1, 20), st.integers(1, 20),
       st.sampled_from([Act.RELU, Act.SILU]), st.sampled_from([Act.HARDSIGMOID, Act.SIGMOID]))
def test_squeeze_excite_block(c, squeeze, h, w, act, gate):
    """The whole SE block: shape, params, fvcore and FlopCounterMode, and its output against
    the block written out in torch.nn.functional."""
    from torch.nn import functional as F
    from torch.utils.flop_counter import FlopCounterMode
    se = SqueezeExcite(c, squeeze, act, gate)
    rows, out = walk(se, (c, h, w))
    module = build_node(se).eval()
    x = torch.randn(2, c, h, w)
    with torch.no_grad():
        y = module(x)
        fn = {Act.RELU: F.relu, Act.SILU: F.silu, Act.HARDSIGMOID: F.hardsigmoid, Act.SIGMOID: torch.sigmoid}
        s = F.adaptive_avg_pool2d(x, 1)
        s = fn[gate](F.conv2d(fn[act](F.conv2d(s, module.fc1.weight, module.fc1.bias)), module.fc2.weight,
                              module.fc2.bias))
        torch.testing.assert_close(y, x * s)
    assert tuple(y.shape[1:]) == out == (c, h, w)
    assert sum(p.numel() for p in module.parameters()) == sum(r.params for r in rows) == 2 * c * squeeze + c + squeeze
    assert sum(r.macs for r in rows) == 2 * c * squeeze  # the two 1x1 convs on a 1x1 map
    assert fvcore_flops(module, x[:1]).total() == FVCORE.total(rows) == 2 * c * squeeze + c * h * w
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x[:1])
    assert counter.get_total_flops() == FLOP_COUNTER.total(rows)


def test_dropout_kernel():
    check_layer(Dropout(0.2), (1280,))

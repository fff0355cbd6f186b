"""The operations only a recorded model runs (flopcalc/operations.py), costed by their formulas in
flopcalc/costs.py, against brute-force enumeration and hand counts written here: every tap of
every convolution, every product of a matmul, an attention or an einsum. (The recorders that
produce them, and live FlopCounterMode and fvcore on the same modules: tests/nn/test_record.py.)"""

from __future__ import annotations

from itertools import product
from math import prod

import pytest
from hypothesis import given, strategies as st

from flopcalc.costs import ShapeError, einsum_sizes, layer_cost
from flopcalc.operations import (Attention, ConvNd, Einsum, Elementwise, Embedding, MatMul, Normalization,
                                 Pool2d, Resize)
from flopcalc.spec import ChannelScale, Conv2d, GlobalAvgPool, ResidualAdd


def _taps(d_in, k, s, p, d):
    """Brute force along one axis: (output positions, input positions each output reads)."""
    outs = [o for o in range(d_in + 2 * p) if o * s + d * (k - 1) < d_in + 2 * p]
    return len(outs)


def brute_conv_nd(layer: ConvNd, x):
    """Count every (output channel, output position, input channel of its group, tap) product."""
    m, *space = x
    out = [_taps(dd, kk, s, p, dl) for dd, kk, s, p, dl in
           zip(space, layer.kernel, layer.stride, layer.padding, layer.dilation)]
    macs = sum(1 for _ in product(range(layer.out_c), *map(range, out), range(m // layer.groups),
                                  *map(range, layer.kernel)))
    return tuple(out), macs


def brute_transposed(layer: ConvNd, x):
    """A transposed convolution spreads each input position over the kernel: out index i*s + k*d - p,
    the output spanning every index reached (plus output_padding at the end)."""
    m, *space = x
    pads = layer.output_padding or (0,) * len(space)
    out = []
    for dd, kk, s, p, dl, op in zip(space, layer.kernel, layer.stride, layer.padding, layer.dilation, pads):
        reached = [i * s + t * dl for i in range(dd) for t in range(kk)]
        out.append(max(reached) + 1 - 2 * p + op)
    macs = sum(1 for _ in product(range(m), *map(range, space), range(layer.out_c // layer.groups),
                                  *map(range, layer.kernel)))
    return tuple(out), macs


@given(dims=st.integers(1, 3), data=st.data())
def test_convolution_nd_equals_enumeration(dims, data):
    g = data.draw(st.sampled_from([1, 2]))
    m, n = g * data.draw(st.integers(1, 2)), g * data.draw(st.integers(1, 2))
    k = tuple(data.draw(st.integers(1, 3)) for _ in range(dims))
    s = tuple(data.draw(st.integers(1, 2)) for _ in range(dims))
    p = tuple(data.draw(st.integers(0, 1)) for _ in range(dims))
    dl = tuple(data.draw(st.integers(1, 2)) for _ in range(dims))
    space = tuple(data.draw(st.integers(4, 6)) for _ in range(dims))
    bias = data.draw(st.booleans())
    layer = ConvNd(m, n, k, s, p, dl, groups=g, bias=bias)
    want_out, want_macs = brute_conv_nd(layer, (m, *space))
    if min(want_out) < 1:  # the dilated kernel is wider than the padded input
        with pytest.raises(ShapeError, match="leaves nothing"):
            layer_cost(layer, (m, *space))
        return
    kind, out, params, macs = layer_cost(layer, (m, *space))
    assert (out, macs) == ((n, *want_out), want_macs)
    assert kind == ("depthwise" if 1 < g == m == n else "pointwise" if g == 1 and set(k) == {1} else "conv")
    assert params == prod(k) * (m // g) * n + (n if bias else 0)
    tl = ConvNd(m, n, k, s, p, dl, groups=g, bias=bias, transposed=True,
                output_padding=tuple(min(1, ss - 1) for ss in s))
    kind_t, out_t, params_t, macs_t = layer_cost(tl, (m, *space))
    want_out, want_macs = brute_transposed(tl, (m, *space))
    assert (out_t, macs_t, kind_t) == ((n, *want_out), want_macs, "depthwise" if 1 < g == m == n else "conv")
    assert params_t == params


@pytest.mark.parametrize("layer, shape, kind", [
    (ConvNd(4, 4, (3, 3), (1, 1), (1, 1), (1, 1), groups=4), (4, 5, 5), "depthwise"),
    (ConvNd(4, 6, (1, 1), (1, 1), (0, 0), (1, 1)), (4, 5, 5), "pointwise"),
    (ConvNd(4, 6, (1,), (1,), (0,), (1,)), (4, 5), "pointwise"),
    (ConvNd(4, 6, (1, 1), (1, 1), (0, 0), (1, 1), groups=2), (4, 5, 5), "conv"),       # grouped, not depthwise
    (ConvNd(4, 6, (1, 1), (1, 1), (0, 0), (1, 1), transposed=True), (4, 5, 5), "conv"),  # transposed 1x1
    (ConvNd(4, 8, (3, 3), (1, 1), (1, 1), (1, 1), groups=4), (4, 5, 5), "conv"),       # depth multiplier 2
])
def test_convolution_kinds(layer, shape, kind):
    assert layer_cost(layer, shape)[0] == kind


def test_convolution_nd_refuses_what_it_cannot_take():
    c = ConvNd(4, 6, (3, 3), (1, 1), (0, 0), (1, 1))
    with pytest.raises(ShapeError, match="2-D convolution of 4 channels cannot take shape"):
        layer_cost(c, (3, 5, 5))
    with pytest.raises(ShapeError, match="cannot take shape"):
        layer_cost(c, (4, 5))
    with pytest.raises(ShapeError, match="3x3 on 2x2 leaves nothing"):
        layer_cost(c, (4, 2, 2))


def test_matmul_and_attention_by_hand():
    # (2, 1, 5, 3) @ (4, 3, 7): batch dims broadcast to (2, 4); each of the 2*4*5*7 outputs sums 3 products
    assert layer_cost(MatMul((4, 3, 7)), (2, 1, 5, 3)) == ("matmul", (2, 4, 5, 7), 0, 2 * 4 * 5 * 7 * 3)
    assert layer_cost(MatMul((3, 7)), (5, 3)) == ("matmul", (5, 7), 0, 5 * 7 * 3)
    with pytest.raises(ShapeError, match="inner dimensions differ"):
        layer_cost(MatMul((4, 7)), (5, 3))
    with pytest.raises(ShapeError, match="inner dimensions differ"):
        layer_cost(MatMul((7,)), (5, 7))
    with pytest.raises(ShapeError, match="do not broadcast"):
        layer_cost(MatMul((3, 3, 7)), (2, 5, 3))
    # 8 heads, 10 queries of 16, 12 keys of 16, values of 24: QK^T 10*12*16, AV 10*12*24 per head
    q, k, v = (1, 8, 10, 16), (1, 8, 12, 16), (1, 8, 12, 24)
    assert layer_cost(Attention(k, v), q) == ("attention", (1, 8, 10, 24), 0, 8 * (10 * 12 * 16 + 10 * 12 * 24))
    with pytest.raises(ShapeError, match="do not match"):
        layer_cost(Attention((1, 8, 12, 8), v), q)
    with pytest.raises(ShapeError, match="do not match"):
        layer_cost(Attention(k, (1, 8, 11, 24)), q)


def test_norms_elementwise_pools_resize_embedding_by_hand():
    assert layer_cost(Normalization("layer", 64), (10, 64)) == ("norm", (10, 64), 128, 0)
    assert layer_cost(Normalization("group", 64, affine=False), (64, 4, 4)) == ("norm", (64, 4, 4), 0, 0)
    assert layer_cost(Elementwise("gelu"), (10, 64)) == ("activation", (10, 64), 0, 0)
    assert layer_cost(Elementwise("add", (1, 64)), (10, 1)) == ("elementwise", (10, 64), 0, 0)
    assert layer_cost(Elementwise("mul", (64,)), (2, 10, 64)) == ("elementwise", (2, 10, 64), 0, 0)
    with pytest.raises(ShapeError, match=r"shapes \(10, 3\) and \(1, 4\) do not broadcast"):
        layer_cost(Elementwise("add", (4,)), (10, 3))
    # max pool 3x3 stride 2 padding 1 on 16x15: floor((16 + 2 - 3) / 2) + 1 = 8, floor(14 / 2) + 1 = 8
    assert layer_cost(Pool2d("max", 3, 2, 1), (8, 16, 15)) == ("window_pool", (8, 8, 8), 0, 0)
    assert layer_cost(Pool2d("avg", 2, 2), (8, 5, 4)) == ("window_pool", (8, 2, 2), 0, 0)
    with pytest.raises(ShapeError, match="max pool 3x3/1 on a 2x2 map leaves nothing"):
        layer_cost(Pool2d("max", 3, 1), (8, 2, 2))
    with pytest.raises(ShapeError, match="Pool2d needs a"):
        layer_cost(Pool2d("max", 3, 1), (8, 2))
    assert layer_cost(Resize("nearest", (32, 30)), (8, 16, 15)) == ("resize", (8, 32, 30), 0, 0)
    assert layer_cost(Embedding(1000, 64), (12,)) == ("embedding", (12, 64), 64_000, 0)


@pytest.mark.parametrize("equation, operands, out", [
    ("bij,bjk->bik", ((2, 3, 4), (2, 4, 5)), (2, 3, 5)),
    ("ij,jk", ((3, 4), (4, 5)), (3, 5)),          # implicit output: the indices used once, sorted
    ("bchw,bc->bhw", ((1, 3, 4, 4), (1, 3)), (1, 4, 4)),
    ("ij,kj->ik", ((3, 4), (1, 4)), (3, 1)),      # a size-1 index broadcasts
    ("i,i->", ((6,), (6,)), ()),                  # a dot product
])
def test_einsum_counts_every_product(equation, operands, out):
    """Brute force: one multiply-add per point of the index space (every combination of the
    indices' values), as a plain loop would compute it."""
    sizes, output = einsum_sizes(equation, operands)
    points = sum(1 for _ in product(*(range(d) for d in sizes.values())))
    assert layer_cost(Einsum(equation, operands), operands[0]) == ("matmul", out, 0, points)
    assert layer_cost(Einsum(equation, operands, batched=True), operands[0])[1] == out[1:]


@pytest.mark.parametrize("equation, operands, words", [
    ("ij,jk->ik", ((3, 4),), "1 operands for 2 terms"),
    ("...ij,jk->ik", ((3, 4), (4, 5)), "or an ellipsis"),
    ("ijk,jk->ik", ((3, 4), (4, 5)), "term 'ijk' for a shape of 2 dimensions"),
    ("ij,jk->ik", ((3, 4), (6, 5)), "index 'j' is 4 and 6"),
])
def test_einsum_refuses_what_it_cannot_count(equation, operands, words):
    with pytest.raises(ShapeError, match=words):
        einsum_sizes(equation, operands)


def test_layer_cost_hands_the_block_input_only_to_the_layers_that_take_it():
    assert layer_cost(ResidualAdd(), (8, 4, 4)) == ("add", (8, 4, 4), 0, 0)         # x + x when no block input
    assert layer_cost(ResidualAdd(), (8, 4, 4), (8, 4, 4)) == ("add", (8, 4, 4), 0, 0)
    with pytest.raises(ShapeError, match=r"residual add of block output \(8, 4, 4\) and block input \(8, 2, 2\)"):
        layer_cost(ResidualAdd(), (8, 4, 4), (8, 2, 2))
    assert layer_cost(ChannelScale(), (8, 1, 1), (8, 6, 6)) == ("scale", (8, 6, 6), 0, 0)
    with pytest.raises(ShapeError, match=r"the gate must be \(8, 1, 1\)"):
        layer_cost(ChannelScale(), (8, 2, 1), (8, 6, 6))
    assert layer_cost(Conv2d(3, 8, 3), (3, 6, 6), (99,)) == ("conv", (8, 6, 6), 3 * 3 * 3 * 8, 9 * 3 * 8 * 36)
    assert layer_cost(GlobalAvgPool(keepdim=True), (8, 6, 6)) == ("pool", (8, 1, 1), 0, 0)


def test_broadcasting_pads_the_shorter_shape_with_ones():
    # (3,) against (4, 3): the vector is a (1, 3) row, repeated 4 times; against (4, 2) it cannot be
    assert layer_cost(Elementwise("add", (4, 3)), (3,)) == ("elementwise", (4, 3), 0, 0)
    with pytest.raises(ShapeError, match=r"shapes \(1, 3\) and \(4, 2\) do not broadcast"):
        layer_cost(Elementwise("add", (4, 2)), (3,))


def test_einsum_equations_may_carry_spaces_and_size_1_indices_broadcast():
    assert einsum_sizes("ij, jk -> ik", ((3, 4), (4, 5))) == ({"i": 3, "j": 4, "k": 5}, "ik")
    assert einsum_sizes("ij,ij->ij", ((3, 1), (3, 4))) == ({"i": 3, "j": 4}, "ij")

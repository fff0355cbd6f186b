"""Cost formulas, one per layer spec type, in the MobileNet papers' notation.

Every formula maps a layer and its input shape to a :class:`LayerCost` tuple ``(kind,
output_shape, params, macs)``: the layer kind, the output shape, the learnable parameters
and the multiply-adds, as exact Python ints. Formulas return it as a plain tuple (they run
~150 times a walk; :func:`layer_cost` gives the named form). One
multiply-add (MAdd) is one multiplication plus one accumulation: the papers'
"Mult-Adds", fvcore's "flop", half of torch's FlopCounterMode "flop". Only convolution
and fully connected layers have MAdds here; batch norm folds into the preceding conv at
inference and activations, pooling and adds are not multiply-adds. What other counters
charge for those layers is a *convention* (:mod:`flopcalc.conventions`), derived from
the shapes recorded here, never stored twice.

Formulas are registered with :func:`cost_formula`, which refuses a second formula for
the same type, so ``COST_FORMULAS`` is the complete list of what can be costed.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from .registry import Registry
from .spec import (JOIN_LAYERS, SKIP_LAYERS, Activation, BatchNorm2d, ChannelScale, Conv2d, Dropout, Flatten,
                   GlobalAvgPool, LayerScale, Linear, MultiQueryAttention, ResidualAdd, Shape, SpecError)
from .operations import (AdaptivePool, Attention, BatchNormNd, ConvNd, Einsum, Elementwise, Embedding, MatMul,
                         Normalization, Pool2d, Recurrent, Reduction, Resize)


class ShapeError(SpecError):
    """A layer cannot take the shape it is given (a vanished map, a channel mismatch)."""


class LayerCost(NamedTuple):
    """What a formula computes, with names."""

    kind: str
    output_shape: Shape
    params: int
    macs: int


# Kinds in the order the V1 paper's Table 2 lists resource use, then the free layers.
KIND_DESCRIPTIONS: dict[str, str] = {
    "pointwise": "Conv 1x1 (pointwise)",
    "depthwise": "Conv DW (depthwise)",
    "conv": "Conv (standard)",
    "linear": "Fully connected",
    "batchnorm": "Batch norm",
    "activation": "Activation",
    "pool": "Global avg pool",
    "add": "Residual add",
    "scale": "Channel scale (SE)",
    "layer_scale": "Layer scale",
    "dropout": "Dropout",
    "flatten": "Flatten",
    # what a recorded module or ONNX file runs beyond the family's layers
    "matmul": "Matrix product",
    "attention": "Attention (QK^T, AV)",
    "norm": "Layer / group norm",
    "elementwise": "Elementwise",
    "window_pool": "Pooling (window)",
    "embedding": "Embedding",
    "recurrent": "Recurrent (LSTM, GRU, RNN)",
    "resize": "Interpolation",
    "reduction": "Reduction (sum, max, norm)",
    "unused": "Parameters the forward never used",
    "uncounted": "Operations without a formula, with parameters (listed below the table)",
}

# The kinds whose formulas have multiply-adds; every other kind has none.
MULTIPLY_ADD_KINDS = ("pointwise", "depthwise", "conv", "linear")
# The products without weights of their own (recorded modules): multiply-adds, but no parameters.
PRODUCT_KINDS = ("matmul", "attention")

COST_FORMULAS = Registry("cost formula")
cost_formula = COST_FORMULAS.register  # @cost_formula(Conv2d) registers a formula


def layer_cost(layer, x: Shape, block_input: Shape | None = None, operands: tuple = ()) -> LayerCost:
    """The cost of one layer fed an ``x``-shaped input, by its registered formula; a layer
    that takes its block's input too (residual add, channel scale) gets ``block_input``, one that joins
    branches (multi-query attention) ``x`` and the other branches' ``operands``."""
    if type(layer) in JOIN_LAYERS:
        return LayerCost(*COST_FORMULAS[type(layer)](layer, (x, *operands)))
    if type(layer) in SKIP_LAYERS:
        return LayerCost(*COST_FORMULAS[type(layer)](layer, x, x if block_input is None else block_input))
    return LayerCost(*COST_FORMULAS[type(layer)](layer, x))


def out_size(d_in: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length along one axis: floor((in + 2p - d(k - 1) - 1) / s) + 1.

    Zero or less means the window no longer fits: the feature map vanishes.
    """
    return (d_in + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _feature_map(owner: str, x: Shape) -> tuple[int, int, int]:
    if len(x) != 3:
        raise ShapeError(f"{owner} needs a (C, H, W) feature map, got shape {x}")
    return x  # type: ignore[return-value]


@cost_formula(Conv2d)
def conv2d_cost(layer: Conv2d, x: Shape) -> LayerCost:
    """Eq. (1) of the V1 paper: D_K * D_K * (M / g) * N * D_F * D_F multiply-adds, where
    D_F x D_F is the output map (eq. (2) with M = 1 per group: depthwise, D_K^2 M D_F^2).

    Parameters: D_K * D_K * (M / g) * N weights, plus N biases.
    """
    m, h, w = x if len(x) == 3 else _feature_map("Conv2d", x)
    if m != layer.in_c:
        raise ShapeError(f"Conv2d expects {layer.in_c} input channels, got {m}")
    d_k, n, g, s, p = layer.kernel, layer.out_c, layer.groups, layer.stride, layer.padding
    span = layer.dilation * (d_k - 1) + 1  # out_size(), inlined: this is the hot loop
    h_out = (h + 2 * p - span) // s + 1
    w_out = (w + 2 * p - span) // s + 1
    if h_out < 1 or w_out < 1:
        raise ShapeError(f"Conv2d {d_k}x{d_k}/{layer.stride} (padding {layer.padding}, "
                         f"dilation {layer.dilation}) on a {h}x{w} map leaves {h_out}x{w_out}: "
                         "the feature map vanishes")
    weights = d_k * d_k * (m // g) * n
    if g > 1 and g == m == n:  # one filter per channel
        kind = "depthwise"
    elif d_k == 1 and g == 1:
        kind = "pointwise"
    else:
        kind = "conv"
    return kind, (n, h_out, w_out), weights + (n if layer.bias else 0), weights * h_out * w_out


def conv2d_padding_macs(layer: Conv2d, x: Shape) -> int:
    """How many of ``conv2d_cost``'s multiply-adds multiply zero padding.

    The formula charges every kernel tap at every output position. Along one axis a tap
    i at output position o reads input o*s - p + i*d; it is in the map when that lies in
    [0, D_in). In-map taps factor over the two axes, so the padding taps are
    D_K^2 * H_out * W_out - inside_h * inside_w, each costing (M / g) * N multiply-adds.
    """
    m, h, w = _feature_map("Conv2d", x)
    k, s, p, d = layer.kernel, layer.stride, layer.padding, layer.dilation

    def inside(d_in: int) -> tuple[int, int]:
        n_out = out_size(d_in, k, s, p, d)
        count = sum(1 for o in range(n_out) for i in range(k) if 0 <= o * s - p + i * d < d_in)
        return n_out, count

    (h_out, in_h), (w_out, in_w) = inside(h), inside(w)
    per_tap = (m // layer.groups) * layer.out_c
    return (k * k * h_out * w_out - in_h * in_w) * per_tap


@cost_formula(BatchNorm2d)
def batchnorm2d_cost(layer: BatchNorm2d, x: Shape) -> LayerCost:
    """gamma and beta, 2C learnable values when affine; no MAdds (folded into the conv)."""
    c = x[0] if len(x) == 3 else _feature_map("BatchNorm2d", x)
    if c != layer.num_features:
        raise ShapeError(f"BatchNorm2d expects {layer.num_features} channels, got {c}")
    return "batchnorm", x, 2 * c if layer.affine else 0, 0


@cost_formula(BatchNormNd)
def batchnorm_nd_cost(layer: BatchNormNd, x: Shape) -> LayerCost:
    """The same as a 2-D one's over (C, ...) of any rank."""
    if not x or x[0] != layer.num_features:
        raise ShapeError(f"BatchNorm expects {layer.num_features} channels first, got shape {x}")
    return "batchnorm", x, 2 * x[0] if layer.affine else 0, 0


@cost_formula(Activation)
def activation_cost(layer: Activation, x: Shape) -> LayerCost:
    """Elementwise; no parameters, no MAdds."""
    return "activation", x, 0, 0


# The layers of SKIP_LAYERS take the enclosing block's input too: their formulas get its shape.

@cost_formula(ResidualAdd)
def residual_add_cost(layer: ResidualAdd, x: Shape, block_input: Shape) -> LayerCost:
    """Elementwise sum with the block input; no parameters, no MAdds."""
    if block_input != x:
        raise ShapeError(f"residual add of block output {x} and block input {block_input}")
    return "add", x, 0, 0


@cost_formula(ChannelScale)
def channel_scale_cost(layer: ChannelScale, x: Shape, block_input: Shape) -> LayerCost:
    """The block input times a (C, 1, 1) gate, channel by channel: C * H * W multiplications
    but no multiply-adds (nothing is accumulated), no parameters."""
    if x[0] != block_input[0] or any(d != 1 for d in x[1:]):
        raise ShapeError(f"channel scale of block input {block_input} by a gate of shape {x}; "
                         f"the gate must be ({block_input[0]}, 1, 1)")
    return "scale", block_input, 0, 0


@cost_formula(GlobalAvgPool)
def global_avg_pool_cost(layer: GlobalAvgPool, x: Shape) -> LayerCost:
    """(C, H, W) -> (C,), or (C, 1, 1) with keepdim; sums, not multiply-adds."""
    c = _feature_map("GlobalAvgPool", x)[0]
    return "pool", ((c, 1, 1) if layer.keepdim else (c,)), 0, 0


@cost_formula(Dropout)
def dropout_cost(layer: Dropout, x: Shape) -> LayerCost:
    """Identity at inference."""
    return "dropout", x, 0, 0


@cost_formula(Flatten)
def flatten_cost(layer: Flatten, x: Shape) -> LayerCost:
    """A view: (C, 1, 1) -> (C,)."""
    return "flatten", (math.prod(x),), 0, 0


@cost_formula(LayerScale)
def layer_scale_cost(layer: LayerScale, x: Shape) -> LayerCost:
    """C learned values, one multiplication per element; no multiply-adds."""
    if x[0] != layer.channels:
        raise ShapeError(f"LayerScale expects {layer.channels} channels, got {x[0]}")
    return "layer_scale", x, layer.channels, 0


# The layers of JOIN_LAYERS take their block's branches' outputs: their formulas get those shapes.

@cost_formula(MultiQueryAttention)
def multi_query_attention_cost(layer: MultiQueryAttention, maps: tuple) -> LayerCost:
    """Queries (h * d_k, H, W) over keys (d_k, h', w') and values (d_v, h', w'): for each of the h heads,
    Q K^T takes L * S * d_k multiply-adds and the weighted sum of V L * S * d_v, where L = H * W
    positions ask and S = h' * w' answer (the softmax and the scale are not multiply-adds)."""
    q, k, v = maps
    h, dk, dv = layer.heads, layer.key_dim, layer.value_dim
    if q[0] != h * dk or k[0] != dk or v[0] != dv or k[1:] != v[1:]:
        raise ShapeError(f"multi-query attention of {h} heads of {dk}/{dv} channels cannot take queries {q}, "
                         f"keys {k} and values {v}")
    length, keys = q[1] * q[2], k[1] * k[2]
    return "attention", (h * dv, q[1], q[2]), 0, h * length * keys * (dk + dv)


@cost_formula(Linear)
def linear_cost(layer: Linear, x: Shape) -> LayerCost:
    """M * N multiply-adds and M * N weights (+ N biases): a 1x1 conv on a 1x1 map. Over a
    sequence (..., M) (a transformer's tokens), M * N for each of its vectors."""
    if not x or x[-1] != layer.in_features:
        raise ShapeError(f"Linear expects a vector of {layer.in_features} features, got shape {x}")
    m, n = layer.in_features, layer.out_features
    vectors = math.prod(x[:-1])
    return "linear", (*x[:-1], n), m * n + (n if layer.bias else 0), vectors * m * n


def _broadcast(a: Shape, b: Shape) -> Shape:
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b)):
        raise ShapeError(f"shapes {a} and {b} do not broadcast")
    return tuple(max(x, y) for x, y in zip(a, b))


@cost_formula(ConvNd)
def conv_nd_cost(layer: ConvNd, x: Shape) -> LayerCost:
    """Every tap of every kernel at every output position: prod(K) * (M / g) * N * prod(out)
    multiply-adds; transposed, each input position is spread by the kernel instead:
    prod(K) * M * (N / g) * prod(in). Parameters: prod(K) * (M / g) * N weights (+ N biases)."""
    m, *space = x
    if m != layer.in_c or len(space) != len(layer.kernel):
        raise ShapeError(f"a {len(layer.kernel)}-D convolution of {layer.in_c} channels cannot take shape {x}")
    g, n, k = layer.groups, layer.out_c, layer.kernel
    if layer.transposed:
        pads = layer.output_padding or (0,) * len(k)
        out = tuple((d - 1) * s - 2 * p + dl * (kk - 1) + op + 1 for d, s, p, dl, kk, op in
                    zip(space, layer.stride, layer.padding, layer.dilation, k, pads))
        macs = math.prod(k) * m * (n // g) * math.prod(space)
    else:
        out = tuple(out_size(d, kk, s, p, dl) for d, kk, s, p, dl in
                    zip(space, k, layer.stride, layer.padding, layer.dilation))
        macs = math.prod(k) * (m // g) * n * math.prod(out)
    if min(out) < 1:
        raise ShapeError(f"convolution {'x'.join(map(str, k))} on {'x'.join(map(str, space))} leaves nothing")
    weights = math.prod(k) * (m // g) * n
    if g > 1 and g == m == n:
        kind = "depthwise"
    elif all(kk == 1 for kk in k) and g == 1 and not layer.transposed:
        kind = "pointwise"
    else:
        kind = "conv"
    return kind, (n, *out), weights + (n if layer.bias else 0), macs


@cost_formula(MatMul)
def matmul_cost(layer: MatMul, x: Shape) -> LayerCost:
    """(..., L, K) @ (..., K, N): L * K * N multiply-adds for each of the broadcast leading entries."""
    o = layer.other
    if len(x) < 2 or len(o) < 2 or x[-1] != o[-2]:
        raise ShapeError(f"matmul of {x} and {o}: the inner dimensions differ")
    lead = _broadcast(x[:-2], o[:-2])
    out = (*lead, x[-2], o[-1])
    return "matmul", out, 0, math.prod(out) * x[-1]


@cost_formula(Attention)
def attention_cost(layer: Attention, x: Shape) -> LayerCost:
    """Q (..., L, E), K (..., S, E), V (..., S, Ev): L * S * E multiply-adds for Q K^T and
    L * S * Ev for the weighted sum of V, for each head (the softmax and scale are free)."""
    k, v = layer.key, layer.value
    if x[-1] != k[-1] or k[-2] != v[-2]:
        raise ShapeError(f"attention of queries {x}, keys {k} and values {v}: the shapes do not match")
    lead = _broadcast(_broadcast(x[:-2], k[:-2]), v[:-2])
    length, keys = x[-2], k[-2]
    heads = math.prod(lead)
    return "attention", (*lead, length, v[-1]), 0, heads * length * keys * (x[-1] + v[-1])


@cost_formula(Normalization)
def norm_cost(layer: Normalization, x: Shape) -> LayerCost:
    """Scale and shift of ``channels`` values when affine (2 per value); no multiply-adds."""
    return "norm", x, 2 * layer.channels if layer.affine else 0, 0


@cost_formula(Elementwise)
def elementwise_cost(layer: Elementwise, x: Shape) -> LayerCost:
    """No parameters, no multiply-adds; a second operand broadcasts against ``x``."""
    if layer.other is None:
        return "activation", x, 0, 0
    return "elementwise", _broadcast(x, layer.other), 0, 0


@cost_formula(Pool2d)
def pool2d_cost(layer: Pool2d, x: Shape) -> LayerCost:
    """(C, H, W) -> (C, H_out, W_out) by max or average over windows; comparisons and sums only."""
    c, h, w = _feature_map("Pool2d", x)
    h_out = pool_size(h, layer.kernel, layer.stride, layer.padding, layer.ceil)
    w_out = pool_size(w, layer.kernel, layer.stride, layer.padding, layer.ceil)
    if h_out < 1 or w_out < 1:
        raise ShapeError(f"{layer.mode} pool {layer.kernel}x{layer.kernel}/{layer.stride} on a {h}x{w} map "
                         "leaves nothing")
    return "window_pool", (c, h_out, w_out), 0, 0


def pool_size(d_in: int, kernel: int, stride: int, padding: int, ceil: bool) -> int:
    """A pooling window's output length; with ``ceil``, rounded up, less a last window that would
    start in the right padding (torch's ceil_mode)."""
    if not ceil:
        return out_size(d_in, kernel, stride, padding)
    n = -(-(d_in + 2 * padding - kernel) // stride) + 1
    return n - 1 if (n - 1) * stride >= d_in + padding else n


@cost_formula(Reduction)
def reduction_cost(layer: Reduction, x: Shape) -> LayerCost:
    return "reduction", tuple(layer.out), 0, 0


@cost_formula(AdaptivePool)
def adaptive_pool_cost(layer: AdaptivePool, x: Shape) -> LayerCost:
    """(C, ...) -> (C, *size) by max or average over adaptive windows; comparisons and sums only."""
    if len(layer.size) != len(x) - 1:
        raise ShapeError(f"adaptive {layer.mode} pool to {'x'.join(map(str, layer.size))} on a "
                         f"{'x'.join(map(str, x))} input")
    return "window_pool", (x[0], *layer.size), 0, 0


@cost_formula(Resize)
def resize_cost(layer: Resize, x: Shape) -> LayerCost:
    """(C, ...) -> (C, *size); interpolation weights, not multiply-adds of a layer."""
    return "resize", (x[0], *layer.size), 0, 0


def einsum_sizes(equation: str, operands) -> tuple[dict[str, int], str]:
    """The size of every index of a two-operand einsum, and its output's indices."""
    inputs, _, output = equation.replace(" ", "").partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands) or "." in equation:
        raise ShapeError(f"einsum {equation!r}: {len(operands)} operands for {len(terms)} terms (or an ellipsis)")
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, operands):
        if len(term) != len(shape):
            raise ShapeError(f"einsum {equation!r}: term {term!r} for a shape of {len(shape)} dimensions")
        for letter, d in zip(term, shape):
            if sizes.setdefault(letter, d) != d and 1 not in (d, sizes[letter]):
                raise ShapeError(f"einsum {equation!r}: index {letter!r} is {sizes[letter]} and {d}")
            sizes[letter] = max(sizes[letter], d)
    if not output:
        output = "".join(sorted(c for c in sizes if inputs.count(c) == 1))
    return sizes, output


@cost_formula(Einsum)
def einsum_cost(layer: Einsum, x: Shape) -> LayerCost:
    """Two operands: the product of every index's size (each output element sums the products over
    the indices it does not keep)."""
    sizes, output = einsum_sizes(layer.equation, layer.operands)
    out = tuple(sizes[c] for c in output)
    return "matmul", out[1:] if layer.batched else out, 0, math.prod(sizes.values())


@cost_formula(Embedding)
def embedding_cost(layer: Embedding, x: Shape) -> LayerCost:
    """A lookup: ``num * dim`` parameters, no multiply-adds."""
    return "embedding", (*x, layer.dim), layer.num * layer.dim, 0


@cost_formula(Recurrent)
def recurrent_cost(layer: Recurrent, x: Shape) -> LayerCost:
    """(T, I) -> (T, directions * H): per step, layer and direction, ``gates * H`` products of the
    layer's input (I, then directions * H) and ``gates * H`` of the hidden state (H); two biases of
    ``gates * H`` each. The gates' sigmoids, tanhs and products of H values are not multiply-adds of a
    layer (the tools that charge them are conventions)."""
    if len(x) != 2 or x[1] != layer.input_size:
        raise ShapeError(f"{layer.mode} of input size {layer.input_size} on a {'x'.join(map(str, x))} sequence")
    g, h, d = layer.gates, layer.hidden, layer.directions
    per_step = sum(g * h * (i + h) for i in layer.layer_inputs()) * d
    params = sum(g * h * (i + h + (2 if layer.bias else 0)) for i in layer.layer_inputs()) * d
    return "recurrent", (x[0], d * h), params, x[0] * per_step

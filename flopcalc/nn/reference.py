"""Reference kernels in NumPy that count what they execute.

An independent implementation of the layers (grouped conv2d, fully connected, batch norm in
eval mode, global average pooling, activations, residual add) whose outputs must equal
torch's within float tolerance, and which count the multiply-adds they actually perform:
the count is taken from the sizes of the arrays each step multiplies, not from a formula.
A convolution multiplies every kernel tap at every output position, including the taps
that fall on zero padding; those are counted separately, so the cost of padding (large on
7x7 maps) is visible.

``forward`` walks the same flattened spec the analyzer walks, with weights taken from a
built model's ``state_dict``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from ..walk import flatten
from ..spec import (Act, Activation, BatchNorm2d, ChannelScale, Conv2d, Dropout, Flatten, GlobalAvgPool, LayerScale,
                    Linear, MultiQueryAttention, Network, ResidualAdd)


@dataclass
class Executed:
    """Operations one kernel call performed, for the whole batch."""

    macs: int = 0          # multiply-adds (one product accumulated into a sum)
    padding_macs: int = 0  # of those, products with a zero-padding value
    adds: int = 0          # additions outside multiply-adds (pooling sums, residual adds)
    other: int = 0         # other elementwise operations (activations, the pooling divide)


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: int, padding: int,
           dilation: int, groups: int, ex: Executed) -> np.ndarray:
    """Grouped 2-D convolution by kernel taps: for each tap (i, j), one batched matrix
    product of the tap's (N/g x M/g) weights with the input window it reads."""
    b, c, h, w = x.shape
    n, cg, k, _ = weight.shape
    g, ng = groups, n // groups
    span = dilation * (k - 1)
    ho = (h + 2 * padding - span - 1) // stride + 1
    wo = (w + 2 * padding - span - 1) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    on_pad = np.pad(np.zeros((h, w), dtype=bool), padding, constant_values=True)
    xg = xp.reshape(b, g, cg, h + 2 * padding, w + 2 * padding)
    wg = weight.reshape(g, ng, cg, k, k)
    y = np.zeros((b, g, ng, ho * wo), dtype=np.result_type(x, weight))
    for i in range(k):
        rows = slice(i * dilation, i * dilation + stride * (ho - 1) + 1, stride)
        for j in range(k):
            cols = slice(j * dilation, j * dilation + stride * (wo - 1) + 1, stride)
            window = xg[:, :, :, rows, cols].reshape(b, g, cg, ho * wo)  # (B, G, M/g, Ho*Wo)
            tap = wg[:, :, :, i, j]                                       # (G, N/g, M/g)
            y += np.matmul(tap, window)                                   # (B, G, N/g, Ho*Wo)
            # each output element of the product took one multiply-add per input channel
            products = b * tap.size * window.shape[-1]
            ex.macs += products
            ex.padding_macs += products // window.shape[-1] * int(on_pad[rows, cols].sum())
    y = y.reshape(b, n, ho, wo)
    if bias is not None:
        y = y + bias[None, :, None, None]
        ex.adds += y.size
    return y


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, ex: Executed) -> np.ndarray:
    y = x @ weight.T
    ex.macs += x.shape[0] * weight.size
    if bias is not None:
        y = y + bias
        ex.adds += y.size
    return y


def batch_norm(x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None, mean: np.ndarray,
               var: np.ndarray, eps: float, ex: Executed) -> np.ndarray:
    """Eval mode, folded into one multiply-add per element: x * scale + shift."""
    scale = 1.0 / np.sqrt(var + eps)
    shift = -mean * scale
    if gamma is not None:
        scale, shift = scale * gamma, shift * gamma + beta
    ex.macs += x.size
    return x * scale[None, :, None, None] + shift[None, :, None, None]


def global_avg_pool(x: np.ndarray, keepdim: bool, ex: Executed) -> np.ndarray:
    b, c, h, w = x.shape
    ex.adds += b * c * (h * w - 1)
    ex.other += b * c  # one divide per channel
    y = x.sum(axis=(2, 3)) / (h * w)
    return y[:, :, None, None] if keepdim else y


# The activations by their definitions (torch.nn's documentation): hard-swish x * relu6(x + 3) / 6,
# hard-sigmoid relu6(x + 3) / 6, SiLU x * sigmoid(x), GELU x * Phi(x) = x (1 + erf(x / sqrt 2)) / 2.
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


_erf = np.vectorize(math.erf, otypes=[np.float64])  # NumPy has no erf; the standard library's is exact


def _gelu(x: np.ndarray) -> np.ndarray:
    return (x * (1.0 + _erf(x / math.sqrt(2.0))) / 2.0).astype(x.dtype)


ACTIVATIONS: dict[Act, Callable[[np.ndarray], np.ndarray]] = {
    Act.RELU: lambda x: np.maximum(x, 0.0),
    Act.RELU6: lambda x: np.clip(x, 0.0, 6.0),
    Act.HARDSWISH: lambda x: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    Act.HARDSIGMOID: lambda x: np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    Act.SILU: lambda x: x * _sigmoid(x),
    Act.SIGMOID: _sigmoid,
    Act.GELU: _gelu,
}


def activation(x: np.ndarray, fn: Act, ex: Executed) -> np.ndarray:
    if fn is Act.IDENTITY:
        return x
    ex.other += x.size
    return ACTIVATIONS[fn](x)


def residual_add(skip: np.ndarray, x: np.ndarray, ex: Executed) -> np.ndarray:
    ex.adds += x.size
    return skip + x


def channel_scale(skip: np.ndarray, gate: np.ndarray, ex: Executed) -> np.ndarray:
    """Squeeze-and-excitation's scale: one multiplication per element, nothing accumulated."""
    ex.other += skip.size
    return skip * gate


def layer_scale(x: np.ndarray, gamma: np.ndarray, ex: Executed) -> np.ndarray:
    ex.other += x.size
    return x * gamma[None, :, None, None]


def multi_query_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, heads: int, ex: Executed) -> np.ndarray:
    """softmax(Q K^T / sqrt(d_k)) V for each head, over the one key and value head all heads share:
    queries (N, h * d_k, H, W), keys (N, d_k, h', w'), values (N, d_v, h', w') -> (N, h * d_v, H, W)."""
    n, _, hh, ww = q.shape
    d_k, d_v = k.shape[1], v.shape[1]
    queries = q.reshape(n, heads, d_k, hh * ww).transpose(0, 1, 3, 2)  # (N, h, L, d_k)
    keys = k.reshape(n, d_k, -1)                                        # (N, d_k, S)
    values = v.reshape(n, d_v, -1).transpose(0, 2, 1)                   # (N, S, d_v)
    logits = np.matmul(queries, keys[:, None]) / math.sqrt(d_k)         # (N, h, L, S)
    ex.macs += logits.size * d_k
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    ex.other += 3 * logits.size  # the scale, the exponential and the divide
    out = np.matmul(weights, values[:, None])                           # (N, h, L, d_v)
    ex.macs += out.size * weights.shape[-1]
    return out.transpose(0, 1, 3, 2).reshape(n, heads * d_v, hh, ww)


# One reference kernel per layer type: (layer, input, weights of that module, counter).
Kernel = Callable[..., np.ndarray]
REFERENCE_KERNELS: dict[type, Kernel] = {
    Conv2d: lambda s, x, p, ex: conv2d(x, p["weight"], p.get("bias"), s.stride, s.padding,
                                       s.dilation, s.groups, ex),
    Linear: lambda s, x, p, ex: linear(x, p["weight"], p.get("bias"), ex),
    BatchNorm2d: lambda s, x, p, ex: batch_norm(x, p.get("weight"), p.get("bias"), p["running_mean"],
                                                p["running_var"], s.eps, ex),
    GlobalAvgPool: lambda s, x, p, ex: global_avg_pool(x, s.keepdim, ex),
    Activation: lambda s, x, p, ex: activation(x, s.fn, ex),
    Dropout: lambda s, x, p, ex: x,  # identity at inference
    Flatten: lambda s, x, p, ex: x.reshape(x.shape[0], -1),  # a view: nothing computed
    LayerScale: lambda s, x, p, ex: layer_scale(x, p["gamma"], ex),
}


@dataclass
class Run:
    output: np.ndarray
    executed: dict[str, Executed] = field(default_factory=dict)
    outputs: dict[str, np.ndarray] = field(default_factory=dict)


def forward(spec: Network, state: Mapping[str, np.ndarray], x: np.ndarray, keep_outputs: bool = False) -> Run:
    """Run ``spec`` on ``x`` (N, C, H, W) with the weights in ``state`` (state_dict keys)."""
    plan = flatten(spec)
    # the inputs a later layer reads again (a block's input: a skip layer's second operand, a branch's
    # start) and the outputs a join reads
    held_in = {i for _, _, skip, source in plan for i in ((skip,) if skip.__class__ is int else ()) + (source,)
               if i >= 0}
    held_out = {i for _, _, skip, _ in plan if skip.__class__ is tuple for i in skip}
    inputs: dict[int, np.ndarray] = {}
    outputs: dict[int, np.ndarray] = {}
    run = Run(x)
    for index, (name, layer, skip, source) in enumerate(plan):
        if source >= 0:
            x = inputs[source]
        if index in held_in:
            inputs[index] = x
        ex = run.executed[name] = Executed()
        if isinstance(layer, ResidualAdd):
            x = residual_add(inputs[skip] if skip >= 0 else x, x, ex)
        elif isinstance(layer, ChannelScale):
            x = channel_scale(inputs[skip] if skip >= 0 else x, x, ex)
        elif isinstance(layer, MultiQueryAttention):
            x = multi_query_attention(*(outputs[i] for i in skip), layer.heads, ex)
        else:
            prefix = name + "."
            params = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            x = REFERENCE_KERNELS[type(layer)](layer, x, params, ex)
        if index in held_out:
            outputs[index] = x
        if keep_outputs:
            run.outputs[name] = x
    run.output = x
    return run

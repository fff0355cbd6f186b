"""What a recorded module (:mod:`flopcalc.nn.record`) or ONNX file (:mod:`flopcalc.nn.onnx_record`)
runs that the MobileNet family has no layer for: convolutions beyond the square 2-D one, matrix
products, attention, layer/group/instance norm, elementwise functions, window pooling and
embeddings. Costed like the family's layers (:mod:`flopcalc.costs`), shown like them, but never
written in a spec file nor built from one. Shapes exclude the batch dimension."""

from __future__ import annotations

from dataclasses import dataclass

from .spec import BatchNorm2d


@dataclass(frozen=True, slots=True)
class BatchNormNd(BatchNorm2d):
    """Batch norm over a tensor of any rank, channels first: ``nn.BatchNorm1d`` over (C,) or (C, L),
    ``nn.BatchNorm3d``, a weight standardized by ``F.batch_norm``. A batch norm in every rule that
    charges one; only its shape is free. ``batch_stats``: normalized by the statistics of what it is
    given (``training=True``, as NF-Nets standardize their weights), not by stored ones."""

    batch_stats: bool = False

@dataclass(frozen=True, slots=True)
class ConvNd:
    """Any convolution a recorded module runs beyond the family's square 2-D ones: 1-D, 2-D with a
    rectangular kernel, 3-D, dilated, transposed. Each field has one entry per spatial axis."""

    in_c: int
    out_c: int
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int = 1
    bias: bool = False
    transposed: bool = False
    output_padding: tuple = ()


@dataclass(frozen=True, slots=True)
class MatMul:
    """``x @ other``, broadcast over the leading dimensions: ``other`` is the second operand's shape."""

    other: tuple


@dataclass(frozen=True, slots=True)
class Attention:
    """Scaled dot-product attention of queries ``x`` (..., L, E) over ``key`` (..., S, E) and
    ``value`` (..., S, Ev): the two products Q K^T and softmax(.) V. ``math``: torch runs it on the
    CPU as its math path, two ``bmm`` (a mask of 3 dimensions, queries of 5 or more, values of another
    width than the keys), not its fused kernel; ``learned_mask``: its mask is computed from parameters
    (a relative-position bias), so a run with gradients takes the math path too."""

    key: tuple
    value: tuple
    math: bool = False
    learned_mask: bool = False


@dataclass(frozen=True, slots=True)
class Normalization:
    """Layer, group or instance norm over ``channels`` values (``kind``), with ``affine`` scale and shift."""

    kind: str
    channels: int
    affine: bool = True


@dataclass(frozen=True, slots=True)
class Elementwise:
    """An elementwise function (``gelu``, ``softmax``, ...) of ``x``, or with a second operand
    ``other`` (``add``, ``mul``, ``div``, ...) broadcast against it: no multiply-adds."""

    fn: str
    other: tuple | None = None


@dataclass(frozen=True, slots=True)
class Pool2d:
    """Max or average pooling over ``kernel`` x ``kernel`` windows."""

    mode: str
    kernel: int
    stride: int
    padding: int = 0
    ceil: bool = False  # ceil_mode: a last window that starts inside the map counts


@dataclass(frozen=True, slots=True)
class Reduction:
    """A reduction (sum, max, a vector norm, a variance ...) of its input over some dimensions, to
    ``out`` (per image): comparisons and sums, no multiply-adds of a layer."""

    fn: str
    out: tuple


@dataclass(frozen=True, slots=True)
class AdaptivePool:
    """Adaptive max or average pooling of a (C, ...) map to the spatial size ``size`` (a global
    average to 1x1 is the family's GlobalAvgPool)."""

    mode: str
    size: tuple


@dataclass(frozen=True, slots=True)
class Embedding:
    """A table of ``num`` vectors of ``dim`` values, looked up by index."""

    num: int
    dim: int


@dataclass(frozen=True, slots=True)
class Resize:
    """Interpolation of a (C, ...) map to the spatial size ``size`` (nearest, bilinear, ...): no multiply-adds."""

    mode: str
    size: tuple


@dataclass(frozen=True, slots=True)
class Einsum:
    """``torch.einsum(equation, *operands)`` of two operands: every product of the summed terms is
    one multiply-add, so the count is the product of every index's size. ``operands`` are the
    shapes for one input (a dimension every operand and the output share first is the batch)."""

    equation: str
    operands: tuple
    batched: bool = False  # the output's first index is the batch (its size 1 in ``operands``)


@dataclass(frozen=True, slots=True)
class Recurrent:
    """``nn.LSTM``, ``nn.GRU`` or ``nn.RNN`` (``mode``: ``lstm``, ``gru``, ``rnn_tanh``, ``rnn_relu``) over
    a sequence ``x`` of (steps, ``input_size``) per image: ``layers`` stacked, each run both ways when
    ``bidirectional``; a layer after the first reads both directions' outputs."""

    mode: str
    input_size: int
    hidden: int
    layers: int = 1
    bidirectional: bool = False
    bias: bool = True

    @property
    def gates(self) -> int:
        """Products of the input and of the hidden state per step: 4 (input, forget, cell, output
        gates), 3 (reset, update, new) or 1."""
        return {"lstm": 4, "gru": 3}.get(self.mode, 1)

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def layer_inputs(self) -> tuple[int, ...]:
        """What each layer reads per step: the input, then the previous layer's directions."""
        return (self.input_size, *[self.hidden * self.directions] * (self.layers - 1))


OP_TYPES: tuple[type, ...] = (BatchNormNd, ConvNd, MatMul, Attention, Normalization, Elementwise, Pool2d, AdaptivePool,
                              Reduction, Embedding, Resize, Einsum, Recurrent)

"""Declarative layer specs: the one description of each architecture.

A network is a tree of frozen dataclasses. Leaves are *layers* (one PyTorch module
each, one cost formula each); inner nodes are *blocks* (the V1 depthwise-separable
block, the V2 inverted residual, a conv-BN-activation triple, a plain sequence) that
expand into named children. The walk (:mod:`flopcalc.walk`) and the PyTorch
builder (:mod:`flopcalc.nn.builders`) both walk this tree, so the numbers and the model
cannot drift apart. A layer's dotted name is the path of child names from the root,
which is also its qualified module name in the built model.

Channel counts are concrete ints: width multipliers and rounding rules are applied by
the zoo (:mod:`flopcalc.zoo`) before specs are made, so a spec says exactly what is
built. Shapes are tuples ``(C, H, W)`` for feature maps and ``(C,)`` for vectors, batch
dimension excluded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Union

from .errors import UserError

Shape = tuple  # (C, H, W) or (C,): ints, batch dimension excluded


def elements(shape: Shape) -> int:
    """The values a tensor of ``shape`` holds (an exact int; 1 for ``()``)."""
    return math.prod(shape)


class SpecError(UserError):
    """A spec or an argument that cannot describe a network; the message is one line."""


def _check_int(owner: str, name: str, value: object, minimum: int) -> None:
    # bool is an int subclass; True channels is a bug, not a count.
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise SpecError(f"{owner}: {name} must be an integer >= {minimum}, got {value!r}")


class Act(str, Enum):
    """Activation functions: ReLU (V1), ReLU6 (V2), identity (the linear bottleneck), hard-swish
    and hard-sigmoid (V3), SiLU and sigmoid (EfficientNet), GELU (MobileNetV4 Hybrid-L: the exact one,
    0.5 x (1 + erf(x / sqrt 2)))."""

    RELU = "relu"
    RELU6 = "relu6"
    IDENTITY = "identity"
    HARDSWISH = "hardswish"
    HARDSIGMOID = "hardsigmoid"
    SILU = "silu"
    SIGMOID = "sigmoid"
    GELU = "gelu"


@dataclass(frozen=True, slots=True)
class Norm:
    """Batch-norm settings of a network: torchvision's V1/V2 defaults, V3's eps 0.001 and
    momentum 0.01. They change no count, but the built model must match the reference's."""

    eps: float = 1e-5
    momentum: float = 0.1


DEFAULT_NORM = Norm()


# --------------------------------------------------------------------------- layers


@dataclass(frozen=True, slots=True)
class Conv2d:
    """Square 2-D convolution, M = ``in_c`` input and N = ``out_c`` output channels.

    ``padding`` defaults to torchvision's ``(kernel - 1) // 2 * dilation`` ("same" for
    odd kernels at stride 1). ``groups = in_c = out_c`` is a depthwise convolution.
    """

    in_c: int
    out_c: int
    kernel: int
    stride: int = 1
    padding: int | None = None
    dilation: int = 1
    groups: int = 1
    bias: bool = False

    def __post_init__(self) -> None:
        for name, minimum in (("in_c", 1), ("out_c", 1), ("kernel", 1), ("stride", 1),
                              ("dilation", 1), ("groups", 1)):
            _check_int("Conv2d", name, getattr(self, name), minimum)
        if self.padding is None:
            object.__setattr__(self, "padding", (self.kernel - 1) // 2 * self.dilation)
        _check_int("Conv2d", "padding", self.padding, 0)
        if self.in_c % self.groups or self.out_c % self.groups:
            raise SpecError(f"Conv2d: groups={self.groups} must divide in_c={self.in_c} "
                            f"and out_c={self.out_c}")


@dataclass(frozen=True, slots=True)
class BatchNorm2d:
    """Batch norm over C channels; affine adds gamma and beta (2C learnable values)."""

    num_features: int
    affine: bool = True
    eps: float = 1e-5
    momentum: float = 0.1

    def __post_init__(self) -> None:
        _check_int("BatchNorm2d", "num_features", self.num_features, 1)


@dataclass(frozen=True, slots=True)
class Activation:
    fn: Act
    inplace: bool = True  # as torchvision builds it (fvcore then names the op aten::relu_ and so on)


@dataclass(frozen=True, slots=True)
class ResidualAdd:
    """``out = block(x) + x``: adds the enclosing block's input to the running output."""


@dataclass(frozen=True, slots=True)
class GlobalAvgPool:
    """Average over all spatial positions: (C, H, W) -> (C,), or (C, 1, 1) with ``keepdim``
    (the squeeze of a squeeze-and-excitation block)."""

    keepdim: bool = False
    # how a recorded model averages: "adaptive" (adaptive_avg_pool2d, as the family's models do) or
    # "mean" (x.mean((2, 3))); the same cost, but some tools see only the first
    reduction: str = "adaptive"


@dataclass(frozen=True, slots=True)
class ChannelScale:
    """``out = block_input * x``: multiplies the enclosing block's input, channel by channel,
    by a (C, 1, 1) gate (the excitation of a squeeze-and-excitation block)."""


@dataclass(frozen=True, slots=True)
class Dropout:
    p: float

    def __post_init__(self) -> None:
        if not (isinstance(self.p, (int, float)) and 0.0 <= self.p < 1.0):
            raise SpecError(f"Dropout: p must be a number in [0, 1), got {self.p!r}")


@dataclass(frozen=True, slots=True)
class Linear:
    """Fully connected layer, M = ``in_features`` to N = ``out_features``."""

    in_features: int
    out_features: int
    bias: bool = True

    def __post_init__(self) -> None:
        _check_int("Linear", "in_features", self.in_features, 1)
        _check_int("Linear", "out_features", self.out_features, 1)


@dataclass(frozen=True, slots=True)
class Flatten:
    """(C, 1, 1) -> (C,): the pooled map as a vector (timm's head flattens after its 1x1 conv on it)."""


@dataclass(frozen=True, slots=True)
class LayerScale:
    """``out = x * gamma``: a learned scale per channel, ``channels`` values (CaiT's layer scale; timm's
    ``LayerScale2d`` in MobileNetV4's hybrids). Multiplications, no multiply-adds."""

    channels: int

    def __post_init__(self) -> None:
        _check_int("LayerScale", "channels", self.channels, 1)


@dataclass(frozen=True, slots=True)
class MultiQueryAttention:
    """Scaled dot-product attention of ``heads`` query heads over one key head and one value head that
    they share (multi-query attention, Shazeer 2019): softmax(Q K^T / sqrt(key_dim)) V, from three maps,
    the queries (heads * key_dim, H, W), the keys (key_dim, h, w) and the values (value_dim, h, w), to
    (heads * value_dim, H, W). It joins the branches of the block it ends (see :data:`JOIN_LAYERS`)."""

    heads: int
    key_dim: int
    value_dim: int

    def __post_init__(self) -> None:
        for name in ("heads", "key_dim", "value_dim"):
            _check_int("MultiQueryAttention", name, getattr(self, name), 1)


LAYER_TYPES: tuple[type, ...] = (Conv2d, BatchNorm2d, Activation, ResidualAdd, ChannelScale,
                                 GlobalAvgPool, Dropout, Linear, Flatten, LayerScale, MultiQueryAttention)
Layer = Union[Conv2d, BatchNorm2d, Activation, ResidualAdd, ChannelScale, GlobalAvgPool, Dropout, Linear, Flatten,
              LayerScale, MultiQueryAttention]
# Layers that take the enclosing block's input as a second operand.
SKIP_LAYERS: tuple[type, ...] = (ResidualAdd, ChannelScale)
# Layers that take the outputs of their block's branches as their operands (a block's ``branches``: the
# children that each start from the block's input).
JOIN_LAYERS: tuple[type, ...] = (MultiQueryAttention,)


# ---------------------------------------------------------------------------- blocks

Children = tuple  # tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class Sequential:
    """Children run one after another; ``children`` pairs each with its name."""

    items: Children

    def children(self) -> Children:
        return self.items


@dataclass(frozen=True, slots=True)
class ConvBNAct:
    """Conv -> BatchNorm -> activation, named ``0``, ``1``, ``2`` like torchvision's
    ``Conv2dNormActivation``; ``act=None`` leaves the activation out."""

    in_c: int
    out_c: int
    kernel: int = 3
    stride: int = 1
    groups: int = 1
    act: Act | None = Act.RELU6
    norm: Norm = DEFAULT_NORM

    def children(self) -> Children:
        return _conv_norm_act(self, ("0", "1", "2"))


def _conv_norm_act(block, names: tuple[str, str, str]) -> Children:
    """A conv-norm-activation block's three layers under ``names`` (the activation left out when
    ``block.act`` is None)."""
    conv = Conv2d(block.in_c, block.out_c, block.kernel, block.stride, groups=block.groups)
    items: tuple = ((names[0], conv), (names[1], BatchNorm2d(block.out_c, eps=block.norm.eps,
                                                               momentum=block.norm.momentum)))
    return items + ((names[2], Activation(block.act)),) if block.act is not None else items


@dataclass(frozen=True, slots=True)
class DepthwiseSeparable:
    """MobileNet V1 block (paper Fig. 3): a D_K x D_K depthwise conv on M channels, then
    a 1x1 pointwise conv M -> N, each followed by BN and ReLU. Children: ``conv.0``
    (depthwise triple) and ``conv.1`` (pointwise triple)."""

    in_c: int
    out_c: int
    stride: int = 1
    kernel: int = 3
    act: Act = Act.RELU
    full_conv: bool = False  # one standard D_K x D_K conv M -> N instead (the paper's "Conv MobileNet")
    norm: Norm = DEFAULT_NORM

    def children(self) -> Children:
        m, n, k, s, a, norm = self.in_c, self.out_c, self.kernel, self.stride, self.act, self.norm
        if self.full_conv:
            return (("conv", Sequential((("0", ConvBNAct(m, n, k, s, act=a, norm=norm)),))),)
        return (("conv", Sequential((
            ("0", ConvBNAct(m, m, k, s, groups=m, act=a, norm=norm)),
            ("1", ConvBNAct(m, n, 1, act=a, norm=norm)),
        ))),)


def has_residual(block) -> bool:
    """The inverted-residual rule (V2's blocks and V3's MBConv): the input is added back when the
    block may skip, keeps the resolution (stride 1) and keeps the channels."""
    return block.skip and block.stride == 1 and block.in_c == block.out_c


@dataclass(frozen=True, slots=True)
class InvertedResidual:
    """MobileNet V2 bottleneck (paper Table 1): 1x1 expansion to t*k channels (left out
    when t = 1), 3x3 depthwise at stride s, linear 1x1 projection to k' channels with
    no activation; the input is added back when s = 1 and k = k'. Children follow
    torchvision: ``conv.0`` .. ``conv.3`` and, for the residual, ``add``."""

    in_c: int
    out_c: int
    stride: int
    expand_ratio: float
    kernel: int = 3
    act: Act = Act.RELU6
    full_conv: bool = False  # the depthwise + projection pair as one standard conv t*k -> k'
    norm: Norm = DEFAULT_NORM
    skip: bool = True  # False: no residual even where the shapes allow one
    flat: bool = False  # its layers as ``layers.0`` .. ``layers.7``, as torchvision's MNASNet names them

    @property
    def hidden(self) -> int:
        # torchvision: hidden_dim = int(round(inp * expand_ratio))
        return int(round(self.in_c * self.expand_ratio))

    @property
    def residual(self) -> bool:
        return has_residual(self)

    def children(self) -> Children:
        h, n, norm = self.hidden, self.out_c, self.norm
        layers = _expansion(self)
        if self.full_conv:
            layers.append(Conv2d(h, n, self.kernel, self.stride))
        else:
            layers += [_depthwise(self), Conv2d(h, n, 1)]
        layers.append(BatchNorm2d(n, eps=norm.eps, momentum=norm.momentum))
        if self.flat:  # each conv-BN-activation as its three layers
            layers = [y for x in layers for y in ([c for _, c in x.children()] if isinstance(x, ConvBNAct) else [x])]
            return _with_residual(self, "layers", layers)
        return _with_residual(self, "conv", layers)


def _expansion(block) -> list:
    """An inverted residual's 1x1 expansion conv, absent when it would not change the width."""
    m, h = block.in_c, block.hidden
    return [ConvBNAct(m, h, 1, act=block.act, norm=block.norm)] if h != m else []


def _depthwise(block) -> ConvBNAct:
    h = block.hidden
    return ConvBNAct(h, h, block.kernel, block.stride, groups=h, act=block.act, norm=block.norm)


def _with_residual(block, name: str, layers: list) -> Children:
    """``layers`` as one named Sequential, then the residual add where the block has one."""
    items: tuple = ((name, Sequential(tuple((str(i), l) for i, l in enumerate(layers)))),)
    return items + (("add", ResidualAdd()),) if block.residual else items


@dataclass(frozen=True, slots=True)
class SqueezeExcite:
    """Squeeze-and-excitation (Hu et al.; MobileNetV3 section 5.3): pool to (C, 1, 1), a 1x1
    conv with bias to ``squeeze`` channels, ``act``, a 1x1 conv with bias back to C, the
    ``gate`` (hard-sigmoid in V3), then the block's input scaled channel by channel. Children
    follow torchvision's ``SqueezeExcitation``: avgpool, fc1, activation, fc2, scale_activation
    (here in the order they run), and ``scale``, the multiply."""

    channels: int
    squeeze: int
    act: Act = Act.RELU
    gate: Act = Act.HARDSIGMOID

    def children(self) -> Children:
        c, s = self.channels, self.squeeze
        return (("avgpool", GlobalAvgPool(keepdim=True)), ("fc1", Conv2d(c, s, 1, bias=True)),
                ("activation", Activation(self.act, inplace=False)), ("fc2", Conv2d(s, c, 1, bias=True)),
                ("scale_activation", Activation(self.gate, inplace=False)), ("scale", ChannelScale()))


@dataclass(frozen=True, slots=True)
class MBConv:
    """MobileNetV3's bottleneck (Howard et al. 2019, Fig. 4), also EfficientNet's MBConv: a 1x1
    expansion to ``hidden`` channels (left out when hidden = in), a k x k depthwise conv at
    ``stride``, optional squeeze-and-excitation on the expanded channels, a linear 1x1
    projection; the input is added back when stride is 1 and the widths agree. Children follow
    torchvision's V3: ``block.0`` .. ``block.3`` and, for the residual, ``add``."""

    in_c: int
    hidden: int
    out_c: int
    kernel: int
    stride: int
    act: Act = Act.RELU
    se: SqueezeExcite | None = None
    full_conv: bool = False  # the depthwise + projection pair as one standard conv
    norm: Norm = DEFAULT_NORM
    skip: bool = True  # False: no residual even where the shapes allow one

    @property
    def residual(self) -> bool:
        return has_residual(self)

    def children(self) -> Children:
        h, n, norm = self.hidden, self.out_c, self.norm
        layers = _expansion(self)
        if self.full_conv:
            layers.append(ConvBNAct(h, n, self.kernel, self.stride, act=None, norm=norm))
        else:
            layers.append(_depthwise(self))
            if self.se is not None:
                layers.append(self.se)
            layers.append(ConvBNAct(h, n, 1, act=None, norm=norm))
        return _with_residual(self, "block", layers)


@dataclass(frozen=True, slots=True)
class Network:
    """The root: a named architecture, its input channels and its top-level children."""

    name: str
    in_channels: int
    items: Children

    def children(self) -> Children:
        return self.items


@dataclass(frozen=True, slots=True)
class ConvNormAct:
    """Conv -> batch norm -> activation as timm names them: ``conv``, ``bn`` (``bn1`` in its ConvBnAct
    block, MobileNetV4's "Conv" rows), ``act``; the input added back where ``skip`` allows."""

    in_c: int
    out_c: int
    kernel: int = 3
    stride: int = 1
    groups: int = 1
    act: Act | None = Act.RELU
    norm: Norm = DEFAULT_NORM
    norm_name: str = "bn"
    skip: bool = False

    @property
    def residual(self) -> bool:
        return has_residual(self)

    def children(self) -> Children:
        items = _conv_norm_act(self, ("conv", self.norm_name, "act"))
        return items + (("add", ResidualAdd()),) if self.residual else items


@dataclass(frozen=True, slots=True)
class FusedIB:
    """The fused inverted bottleneck (EfficientNet-EdgeTPU's, MobileNetV4's FusedIB; timm's
    EdgeResidual): a k x k conv at ``stride`` from ``in_c`` to ``hidden`` channels, batch norm and the
    activation, then a linear 1x1 projection to ``out_c``; the input added back when stride is 1 and the
    widths agree. Children as timm names them: ``conv_exp``, ``bn1``, ``conv_pwl``, ``bn2``."""

    in_c: int
    hidden: int
    out_c: int
    kernel: int = 3
    stride: int = 1
    act: Act = Act.RELU
    norm: Norm = DEFAULT_NORM
    skip: bool = True

    @property
    def residual(self) -> bool:
        return has_residual(self)

    def children(self) -> Children:
        n = self.norm
        items: tuple = (("conv_exp", Conv2d(self.in_c, self.hidden, self.kernel, self.stride)),
                        ("bn1", BatchNorm2d(self.hidden, eps=n.eps, momentum=n.momentum)),
                        ("act", Activation(self.act)),
                        ("conv_pwl", Conv2d(self.hidden, self.out_c, 1)),
                        ("bn2", BatchNorm2d(self.out_c, eps=n.eps, momentum=n.momentum)))
        return items + (("add", ResidualAdd()),) if self.residual else items


@dataclass(frozen=True, slots=True)
class UniversalInvertedBottleneck:
    """MobileNetV4's Universal Inverted Bottleneck (Qin et al. 2024, section 3.1): an optional depthwise
    ``start_k`` x ``start_k`` conv on the input (no activation), a 1x1 expansion to ``hidden`` channels,
    an optional depthwise ``mid_k`` x ``mid_k`` conv, a linear 1x1 projection; the stride goes to the
    middle conv, else to the first. Both: ExtraDW; the first only: ConvNeXt-like; the middle only: the
    inverted bottleneck; neither: FFN. The input is added back when stride is 1 and the widths agree.
    Children as timm names them: ``dw_start``, ``pw_exp``, ``dw_mid``, ``pw_proj``, ``layer_scale``."""

    in_c: int
    hidden: int
    out_c: int
    start_k: int = 0
    mid_k: int = 3
    stride: int = 1
    act: Act = Act.RELU
    norm: Norm = DEFAULT_NORM
    skip: bool = True
    layer_scale: bool = False  # a learned scale per channel on its output (MobileNetV4's hybrids)

    def __post_init__(self) -> None:
        if self.stride > 1 and not (self.start_k or self.mid_k):
            raise SpecError(f"a universal inverted bottleneck at stride {self.stride} needs a depthwise conv "
                            "(start_k or mid_k > 0) to carry it")

    @property
    def residual(self) -> bool:
        return has_residual(self)

    def children(self) -> Children:
        m, h, n = self.in_c, self.hidden, self.out_c
        items: tuple = ()
        if self.start_k:
            items += (("dw_start", ConvNormAct(m, m, self.start_k, 1 if self.mid_k else self.stride, groups=m,
                                               act=None, norm=self.norm)),)
        items += (("pw_exp", ConvNormAct(m, h, 1, act=self.act, norm=self.norm)),)
        if self.mid_k:
            items += (("dw_mid", ConvNormAct(h, h, self.mid_k, self.stride, groups=h, act=self.act,
                                             norm=self.norm)),)
        items += (("pw_proj", ConvNormAct(h, n, 1, act=None, norm=self.norm)),)
        if self.layer_scale:
            items += (("layer_scale", LayerScale(n)),)
        return items + (("add", ResidualAdd()),) if self.residual else items


@dataclass(frozen=True, slots=True)
class MobileMQA:
    """MobileNetV4's Mobile MQA (Qin et al. 2024, section 3.3; timm's ``MultiQueryAttention2d``): from one
    map of ``channels``, three branches, the queries (a 1x1 conv to ``heads`` x ``key_dim``), the keys
    and the values (each, when ``kv_stride`` > 1, a depthwise ``kernel`` x ``kernel`` conv at that stride
    and batch norm, then a 1x1 conv to ``key_dim`` or ``value_dim``: one head, shared); multi-query
    attention of the queries over the keys and values; a 1x1 conv to ``out_c``. No biases."""

    channels: int
    out_c: int
    heads: int
    key_dim: int
    value_dim: int
    kv_stride: int = 1
    kernel: int = 3
    norm: Norm = DEFAULT_NORM

    branches = ("query", "key", "value")  # each starts from the block's input (walk.flatten)

    def children(self) -> Children:
        c, n = self.channels, self.norm

        def kv(dim: int) -> Sequential:
            down: tuple = ()
            if self.kv_stride > 1:
                down = (("down_conv", Conv2d(c, c, self.kernel, self.kv_stride, groups=c)),
                        ("norm", BatchNorm2d(c, eps=n.eps, momentum=n.momentum)))
            return Sequential(down + (("proj", Conv2d(c, dim, 1)),))
        return (("query", Sequential((("proj", Conv2d(c, self.heads * self.key_dim, 1)),))),
                ("key", kv(self.key_dim)), ("value", kv(self.value_dim)),
                ("attention", MultiQueryAttention(self.heads, self.key_dim, self.value_dim)),
                ("output", Sequential((("proj", Conv2d(self.heads * self.value_dim, self.out_c, 1)),))))


@dataclass(frozen=True, slots=True)
class MobileAttention:
    """MobileNetV4's attention block (timm's ``MobileAttention`` with multi-query attention): batch norm of
    the input, :class:`MobileMQA`, an optional layer scale, and the input added back when the widths agree.
    ``key_dim`` 0: ``in_c // heads`` (the heads must divide the channels). Children as timm names them:
    ``norm``, ``attn``, ``layer_scale``."""

    in_c: int
    out_c: int
    heads: int
    key_dim: int = 0
    kv_stride: int = 1
    kernel: int = 3
    layer_scale: bool = False
    norm: Norm = DEFAULT_NORM
    skip: bool = True
    stride: int = 1  # attention keeps the map's size; the residual rule reads it

    def __post_init__(self) -> None:
        _check_int("MobileAttention", "heads", self.heads, 1)
        if not self.key_dim and self.in_c % self.heads:
            raise SpecError(f"attention of {self.heads} heads over {self.in_c} channels: the heads must divide "
                            f"the channels (or give key_dim, each head's width)")
        if self.stride != 1:
            raise SpecError(f"an attention block runs at stride 1, got stride {self.stride}")

    @property
    def residual(self) -> bool:
        return has_residual(self)

    @property
    def head_dim(self) -> int:
        return self.key_dim or self.in_c // self.heads

    def children(self) -> Children:
        c, n, d = self.in_c, self.norm, self.head_dim
        items: tuple = (("norm", BatchNorm2d(c, eps=n.eps, momentum=n.momentum)),
                        ("attn", MobileMQA(c, self.out_c, self.heads, d, d, self.kv_stride, self.kernel, n)))
        if self.layer_scale:
            items += (("layer_scale", LayerScale(self.out_c)),)
        return items + (("add", ResidualAdd()),) if self.residual else items


BLOCK_TYPES: tuple[type, ...] = (Sequential, ConvBNAct, DepthwiseSeparable, InvertedResidual,
                                 SqueezeExcite, MBConv, ConvNormAct, FusedIB, UniversalInvertedBottleneck,
                                 MobileMQA, MobileAttention, Network)
Node = Union[Layer, Sequential, ConvBNAct, DepthwiseSeparable, InvertedResidual, SqueezeExcite, MBConv,
             ConvNormAct, FusedIB, UniversalInvertedBottleneck, MobileMQA, MobileAttention, Network]


def check_number(name: str, value: object, *, accepted: str) -> float:
    """A finite real number, or a SpecError naming the value and what is accepted."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(f"{name} must be {accepted}, got {value!r}")
    return value

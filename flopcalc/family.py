"""A network of the MobileNet family as its paper writes it: a stem, a table of stages (one row
each: block type, kernel, expansion, output channels, repeats, stride, squeeze-and-excitation,
activation) and a head. :func:`build_network` turns such a :class:`Family`, a width multiplier
alpha and a channel rule into the concrete :class:`~flopcalc.spec.Network` the analyzer and the
PyTorch builder walk.

The zoo's V1, V2 and V3 are Families (:mod:`flopcalc.zoo`), and so is every spec file a user
writes (:mod:`flopcalc.specfile`): one description, one builder, whatever the source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Optional

from .scaling import DEFAULT_RESOLUTION, make_divisible
from .spec import (Act, ConvBNAct, ConvNormAct, DepthwiseSeparable, Dropout, Flatten, FusedIB, GlobalAvgPool,
                   InvertedResidual, BLOCK_TYPES, Activation, Linear, MBConv, MobileAttention, Network, Norm,
                   ResidualAdd, Sequential, SpecError, SqueezeExcite, UniversalInvertedBottleneck, DEFAULT_NORM)

BLOCKS = ("depthwise_separable", "inverted_residual", "mbconv", "uib", "fused_ib", "conv_bn_act", "mqa")
# How a network's modules are named (its state_dict keys), as the reference implementation names them:
# "flat": features.N, one per block (torchvision's MobileNet V2 and V3); "stages": features.S.I, a
# Sequential per stage (torchvision's EfficientNet); "mnasnet": torchvision's MNASNet, one Sequential
# ``layers`` of the stem's and the head's layers themselves and a Sequential per stage of blocks whose
# layers are ``layers.0`` .. ``layers.7``; "timm": timm's MobileNetV3/V4 class, ``conv_stem``, ``bn1``,
# ``blocks.S.I`` (rows grouped by their ``stage``), ``conv_head``, ``norm_head``, ``classifier``.
LAYOUTS = ("flat", "stages", "mnasnet", "timm")
MAX_DEPTH = 20.0  # a depth multiplier past this repeats a stage of 4 over 80 times: not a network anyone means
SCALES = ("always", "up", "never")  # how alpha applies to a head width: always, only above 1, never


@dataclass(frozen=True)
class Stem:
    """The first, standard conv: ``c`` output channels, ``k`` x ``k``, stride ``s``."""

    c: int
    k: int = 3
    s: int = 2
    act: Act = Act.RELU
    scale: str = "always"  # how alpha applies to its width, one of SCALES (timm's V4 keeps 32 below 1.0: "up")


@dataclass(frozen=True)
class Stage:
    """One row of the paper's table: ``n`` blocks of type ``block`` with ``c`` output channels,
    the first at stride ``s``, depthwise kernel ``k``. The expansion is ``t`` (a multiple of the
    block's input, V2) or ``exp`` (an expanded width, V3's "exp size"); ``se`` adds
    squeeze-and-excitation (mbconv only)."""

    block: str
    c: int
    n: int = 1
    s: int = 1
    k: int = 3
    t: Optional[float] = None
    exp: Optional[int] = None
    se: bool = False
    act: Act = Act.RELU6
    residual: Optional[bool] = None  # None: where stride 1 and the widths agree; False: never
    a: int = 0  # uib: the depthwise kernel before the expansion (0: none); k is the middle one (0: none)
    stage: Optional[int] = None  # the reference's stage it belongs to (layout "timm": blocks.STAGE.I)
    # mqa (MobileNetV4's attention): query heads, each head's key and value width (0: the channels over
    # the heads), the keys' and values' downsampling stride (k: its depthwise kernel)
    heads: int = 0
    key_dim: int = 0
    kv_stride: int = 1


@dataclass(frozen=True)
class SE:
    """How a family builds squeeze-and-excitation: ``squeeze = base // reduction``, rounded
    with make_divisible(., divisor) (divisor 1: at least 1), where the base is the expanded
    width (V3) or the block's input width (EfficientNet)."""

    reduction: int = 4
    of: str = "expanded"
    divisor: int = 8
    act: Act = Act.RELU
    gate: Act = Act.HARDSIGMOID


@dataclass(frozen=True)
class Head:
    """After the last stage: an optional 1x1 conv (``conv`` channels, scaled by alpha as
    ``conv_scale`` says; or ``conv_expand`` times its input, as V3 and EfficientNet do), global
    average pooling, an optional fully connected ``hidden`` layer (V3), dropout, the classifier."""

    conv: Optional[int] = None
    conv_scale: str = "always"
    conv_expand: Optional[int] = None
    conv_act: Act = Act.RELU6
    hidden: Optional[int] = None
    hidden_scale: str = "always"
    hidden_act: Act = Act.HARDSWISH
    dropout: float = 0.2
    hidden_conv: bool = False  # the hidden layer as a 1x1 conv, batch norm and activation on the pooled map (V4)


@dataclass(frozen=True)
class Family:
    """A whole network: ``stages`` in the paper's notation, channels at alpha = 1; the default
    width rule is make_divisible(c * alpha, divisor). ``round_expansion`` rounds a ``t``
    expansion of an mbconv block with the same rule (EfficientNet) instead of to the nearest
    integer (V2)."""

    name: str
    stem: Stem
    stages: tuple[Stage, ...]
    head: Head
    title: str = ""
    source: str = ""
    in_channels: int = 3
    divisor: int = 8
    round_expansion: bool = False
    se: SE = field(default_factory=SE)
    norm: Norm = DEFAULT_NORM
    alpha: float = 1.0  # the width multiplier a spec file is analyzed at unless told otherwise
    depth: float = 1.0  # the depth multiplier: each stage repeats ceil(n * depth) blocks (EfficientNet)
    resolution: int = DEFAULT_RESOLUTION  # the input size it is analyzed at unless told otherwise
    layout: str = "flat"  # how the blocks are named: one of LAYOUTS
    layer_scale: bool = False  # uib and mqa blocks end in a learned scale per channel (MobileNetV4's hybrids)


class WidthRule:
    """How one implementation turns paper widths into channels at width multiplier alpha.

    The default (torchvision's) is make_divisible(c * alpha, divisor) everywhere; other
    implementations round in other places (TF-Slim's V1 truncates; Keras' V2 truncates block
    widths first; TF-Slim's and Keras' V3 take expansions relative to the block's actual input),
    which is what the conventions that reproduce them (:mod:`flopcalc.conventions`) select by name.
    ``role`` is ``stem``, ``block``, ``head`` or ``hidden``.
    """

    def __init__(self, name: str, doc: str, channels=None, expansion=None, squeeze=None):
        self.name, self.doc = name, doc
        self._channels, self._expansion, self._squeeze = channels, expansion, squeeze

    def channels(self, family: Family, c: float, alpha: float, role: str) -> int:
        if self._channels is not None:
            return self._channels(family, c, alpha, role)
        return make_divisible(c * alpha, family.divisor)

    def expansion(self, family: Family, exp: int, in_paper: int, in_actual: int, alpha: float) -> int:
        """An mbconv row's expanded width given as ``exp``: scaled as any width by default."""
        if self._expansion is not None:
            return self._expansion(family, exp, in_paper, in_actual, alpha)
        return self.channels(family, exp, alpha, "block")

    def squeeze(self, family: Family, base: int) -> int:
        if self._squeeze is not None:
            return self._squeeze(family, base)
        se = family.se
        return make_divisible(base // se.reduction, se.divisor) if se.divisor > 1 else max(1, base // se.reduction)

    def __repr__(self) -> str:
        return f"WidthRule({self.name!r})"


DEFAULT_RULE = WidthRule("torchvision", "make_divisible(c * alpha, 8), as torchvision")


def _scaled(scale: str, alpha: float) -> float:
    return alpha if scale == "always" else max(1.0, alpha) if scale == "up" else 1.0


def build_network(f: Family, alpha: float, num_classes: int, rule: WidthRule = DEFAULT_RULE, *,
                  small_input: bool = False, full_conv: bool = False) -> Network:
    """The concrete network of ``f`` at width ``alpha`` with ``num_classes`` outputs.

    ``small_input`` adapts it to small images (8x8 digits, 32x32 CIFAR), as the CIFAR ports of
    these networks do: the stem and the first strided stage run at stride 1, so the network
    downsamples 8x instead of 32x. ``full_conv`` replaces each depthwise + pointwise pair by one
    standard convolution (the V1 paper's Table 4 "Conv MobileNet").
    """
    def ch(c: float, role: str, a: float = alpha) -> int:
        try:
            n = rule.channels(f, c, a, role)
        except OverflowError:
            raise SpecError(f"alpha {alpha!r} is too large: {c} * alpha channels is not a finite number; "
                            "use a finite alpha > 0") from None
        if n < 1:
            raise SpecError(f"alpha {alpha!r} leaves {c} * alpha = {c * a:g} channels, which the {rule.name} "
                            f"width rule ({rule.doc}) rounds to {n}; use a larger alpha")
        return n

    norm = f.norm
    c_in, in_paper = ch(f.stem.c, "stem", _scaled(f.stem.scale, alpha)), f.stem.c
    stem = ConvBNAct(f.in_channels, c_in, f.stem.k, 1 if small_input else f.stem.s, act=f.stem.act, norm=norm)
    stages: list[list] = []
    adapt = small_input  # the first strided stage still to run at stride 1
    for row in f.stages:
        c_out = ch(row.c, "block")
        stages.append([])
        for i in range(repeats(row.n, f.depth)):
            s = row.s if i == 0 else 1
            if adapt and s > 1:
                s, adapt = 1, False
            stages[-1].append(_block(f, row, rule, alpha, c_in, in_paper, c_out, s, full_conv))
            c_in, in_paper = c_out, row.c
    h = f.head
    head = []
    if h.conv is not None or h.conv_expand is not None:
        c_head = h.conv_expand * c_in if h.conv_expand is not None else ch(h.conv, "head", _scaled(h.conv_scale, alpha))
        head.append(ConvBNAct(c_in, c_head, 1, act=h.conv_act, norm=norm))
        c_in = c_head
    classifier: list = []
    if h.hidden is not None:
        hidden = ch(h.hidden, "hidden", _scaled(h.hidden_scale, alpha))
        if h.hidden_conv:
            classifier += [ConvNormAct(c_in, hidden, 1, act=h.hidden_act, norm=norm), Flatten()]
        else:
            classifier += [Linear(c_in, hidden), Activation(h.hidden_act)]
        c_in = hidden
    classifier += [*([Dropout(h.dropout)] if h.dropout or f.layout != "timm" else []), Linear(c_in, num_classes)]
    pool = GlobalAvgPool(keepdim=h.hidden_conv)
    if f.layout == "timm":
        return _timm_network(f, stem, stages, head, pool, classifier)
    if f.layout == "stages":
        features = [stem, *(_numbered(stage) for stage in stages), *head]
    elif f.layout == "mnasnet":  # the first stage (one separable block) as its layers, as the stem
        first = [] if not stages else [leaf for b in stages[0] for leaf in _leaves(b)]
        features = [*_leaves(stem), *first, *(_numbered([replace(b, flat=True) for b in stage])
                                               for stage in stages[1:]), *(x for b in head for x in _leaves(b))]
    else:
        features = [stem, *(b for stage in stages for b in stage), *head]
    return Network(f.name, f.in_channels, (
        ("layers" if f.layout == "mnasnet" else "features", _numbered(features)),
        ("avgpool", pool),
        ("classifier", _numbered(classifier)),
    ))


def _timm_network(f: Family, stem: ConvBNAct, stages: list[list], head: list, pool: GlobalAvgPool,
                  classifier: list) -> Network:
    """timm's names: the stem's conv and norm at the top, the blocks grouped by stage, the head's 1x1
    conv on the pooled map as conv_head, norm_head and act2."""
    conv, bn, *act = (x for _, x in stem.children())
    groups: list[list] = []
    last = object()
    for row, blocks in zip(f.stages, stages):
        if row.stage is None or row.stage != last:
            groups.append([])
        groups[-1] += blocks
        last = row.stage
    items: tuple = (("conv_stem", conv), ("bn1", bn)) + tuple(("act1", a) for a in act)
    items += (("blocks", _numbered(_numbered(g) for g in groups)),)
    if head:  # a 1x1 conv before the pool, as the family's other heads have
        items += (("conv_last", head[0]),)
    items += (("global_pool", pool),)
    rest = list(classifier)
    if rest and isinstance(rest[0], ConvNormAct):
        cna = rest.pop(0)
        conv_head, norm_head, *act2 = (x for _, x in cna.children())
        items += (("conv_head", conv_head), ("norm_head", norm_head)) + tuple(("act2", a) for a in act2)
    named = {Flatten: "flatten", Dropout: "dropout", Linear: "classifier"}
    items += tuple((named.get(type(x), f"head{i}"), x) for i, x in enumerate(rest))
    return Network(f.name, f.in_channels, items)


def repeats(n: int, depth: float) -> int:
    """A stage's blocks at depth multiplier ``depth``: ``ceil(n * depth)``, as EfficientNet rounds them
    (Tan & Le 2019; torchvision's ``adjust_depth``)."""
    return int(math.ceil(n * depth))


def _numbered(nodes) -> Sequential:
    return Sequential(tuple((str(i), node) for i, node in enumerate(nodes)))


def _leaves(node) -> list:
    """A block's layers in order, its blocks opened (a conv-BN-activation as its three layers); a block
    with a residual add stays whole."""
    if not isinstance(node, BLOCK_TYPES):
        return [node]
    if any(isinstance(child, ResidualAdd) for _, child in node.children()):
        return [node]
    return [leaf for _, child in node.children() for leaf in _leaves(child)]


def _block(f: Family, row: Stage, rule: WidthRule, alpha: float, c_in: int, in_paper: int, c_out: int, s: int,
           full_conv: bool):
    norm, skip = f.norm, row.residual is not False
    if row.block == "conv_bn_act":  # MobileNetV4's "Conv" rows: a plain conv, no residual unless asked
        return ConvNormAct(c_in, c_out, row.k, s, act=row.act, norm=norm, norm_name="bn1", skip=row.residual is True)
    if row.block == "fused_ib":
        return FusedIB(c_in, make_divisible(c_in * row.t, f.divisor), c_out, row.k, s, row.act, norm, skip)
    if row.block == "uib":
        return UniversalInvertedBottleneck(c_in, make_divisible(c_in * row.t, f.divisor), c_out, row.a, row.k, s,
                                           row.act, norm, skip, f.layer_scale)
    if row.block == "mqa":
        return MobileAttention(c_in, c_out, row.heads, row.key_dim, row.kv_stride, row.k, f.layer_scale, norm, skip,
                               s)
    if row.residual and (s != 1 or c_in != c_out):
        raise SpecError(f"a residual needs stride 1 and equal input and output widths; this {row.block} "
                        f"block has stride {s} and {c_in} -> {c_out} channels")
    if row.block == "depthwise_separable":
        return DepthwiseSeparable(c_in, c_out, s, row.k, row.act, full_conv=full_conv, norm=norm)
    if row.block == "inverted_residual":
        return InvertedResidual(c_in, c_out, s, row.t, row.k, row.act, full_conv=full_conv, norm=norm, skip=skip)
    if row.exp is not None:
        hidden = rule.expansion(f, row.exp, in_paper, c_in, alpha)
    elif f.round_expansion:
        hidden = make_divisible(c_in * row.t, f.divisor)
    else:
        hidden = int(round(c_in * row.t))
    se = None
    if row.se:
        se = SqueezeExcite(hidden, rule.squeeze(f, hidden if f.se.of == "expanded" else c_in), f.se.act, f.se.gate)
    return MBConv(c_in, hidden, c_out, row.k, s, row.act, se, full_conv=full_conv, norm=norm, skip=skip)


def with_alpha(f: Family, alpha: float) -> Family:
    return replace(f, alpha=alpha)

"""The model zoo: MobileNet V1 and V2 written once, as tables in the papers' notation.

Each builder turns (alpha, num_classes) into a concrete :class:`~flopcalc.spec.Network`;
resolution is not part of a spec (parameters do not depend on it), it is the input
shape the analyzer walks with. Channels are rounded with ``make_divisible(c * alpha, 8)``
as torchvision does, for V1 as well as V2.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from .scaling import DEFAULT_RESOLUTION, WIDTH_RULES, WidthRule
from .spec import (Act, ConvBNAct, DepthwiseSeparable, Dropout, GlobalAvgPool,
                   InvertedResidual, Linear, Network, Sequential, SpecError, check_number)

DEFAULT_CLASSES = 1000
__all__ = ["DEFAULT_CLASSES", "DEFAULT_RESOLUTION", "MODELS", "get_spec", "mobilenet_v1", "mobilenet_v2"]

# MobileNets (Howard et al. 2017), Table 1: a full 3x3 conv at stride 2 to 32 channels,
# then 13 depthwise-separable blocks, each given as (c: pointwise output channels,
# s: depthwise stride). The table prints s2 for the last depthwise layer; that is a
# misprint: the reference implementation and every published count use s1 (7x7 stays 7x7).
V1_STEM = 32
V1_BLOCKS: tuple[tuple[int, int], ...] = (
    # c,  s     input size at 224
    (64, 1),    # 112
    (128, 2),   # 112
    (128, 1),   # 56
    (256, 2),   # 56
    (256, 1),   # 28
    (512, 2),   # 28
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),  # 14
    (1024, 2),  # 14
    (1024, 1),  # 7
)
V1_DROPOUT = 0.001  # TF-Slim's reference implementation keeps 0.999

# MobileNetV2 (Sandler et al. 2018), Table 2: stem conv 3x3/2 to 32, then bottleneck
# stages, then a 1x1 conv to 1280 channels (scaled only for alpha > 1).
V2_STEM = 32
V2_LAST = 1280
V2_BLOCKS: tuple[tuple[int, int, int, int], ...] = (
    # t, c,   n, s    input size at 224
    (1, 16, 1, 1),   # 112
    (6, 24, 2, 2),   # 112
    (6, 32, 3, 2),   # 56
    (6, 64, 4, 2),   # 28
    (6, 96, 3, 1),   # 14
    (6, 160, 3, 2),  # 14
    (6, 320, 1, 1),  # 7
)
V2_DROPOUT = 0.2  # torchvision


def _width(alpha: float, rule: WidthRule) -> Callable[..., int]:
    """The channel rule for width multiplier alpha, as one function of a paper width."""
    def channels(c: float, role: str = "block") -> int:
        try:
            n = rule(c, alpha, role)
        except OverflowError:
            raise SpecError(f"alpha {alpha!r} is too large: {c} * alpha channels is not a "
                            "finite number; use a finite alpha > 0") from None
        if n < 1:
            raise SpecError(f"alpha {alpha!r} leaves {c} * alpha = {c * alpha:g} channels, which the "
                            f"{rule.name} width rule ({rule.doc}) rounds to {n}; use a larger alpha")
        return n
    return channels


def _head(in_c: int, num_classes: int, dropout: float) -> tuple:
    return (
        ("avgpool", GlobalAvgPool()),
        ("classifier", Sequential((("0", Dropout(dropout)),
                                   ("1", Linear(in_c, num_classes))))),
    )


def mobilenet_v1(alpha: float = 1.0, num_classes: int = DEFAULT_CLASSES,
                 rule: WidthRule = WIDTH_RULES["mobilenet_v1"]["torchvision"], full_conv: bool = False) -> Network:
    """MobileNet V1 at width ``alpha``; ``rule`` turns ``c * alpha`` into a channel count
    (torchvision's ``make_divisible`` by default; TF-Slim and Keras truncate)."""
    ch = _width(alpha, rule)
    c_in = ch(V1_STEM, "stem")
    features: list = [ConvBNAct(3, c_in, 3, 2, act=Act.RELU)]
    for c, s in V1_BLOCKS:
        c_out = ch(c)
        features.append(DepthwiseSeparable(c_in, c_out, s, full_conv=full_conv))
        c_in = c_out
    return Network("mobilenet_v1", 3, (
        ("features", Sequential(tuple((str(i), f) for i, f in enumerate(features)))),
    ) + _head(c_in, num_classes, V1_DROPOUT))


def mobilenet_v2(alpha: float = 1.0, num_classes: int = DEFAULT_CLASSES,
                 rule: WidthRule = WIDTH_RULES["mobilenet_v2"]["torchvision"], full_conv: bool = False) -> Network:
    """MobileNet V2 at width ``alpha``, channels rounded by ``rule``."""
    ch = _width(alpha, rule)
    c_in = ch(V2_STEM, "stem")
    features: list = [ConvBNAct(3, c_in, 3, 2)]
    for t, c, n, s in V2_BLOCKS:
        c_out = ch(c)
        for i in range(n):
            features.append(InvertedResidual(c_in, c_out, s if i == 0 else 1, t, full_conv=full_conv))
            c_in = c_out
    # The last conv is never narrowed: 1280 * max(1, alpha), rounded the same way.
    last = _width(max(1.0, alpha), rule)(V2_LAST, "head")
    features.append(ConvBNAct(c_in, last, 1))
    return Network("mobilenet_v2", 3, (
        ("features", Sequential(tuple((str(i), f) for i, f in enumerate(features)))),
    ) + _head(last, num_classes, V2_DROPOUT))


@dataclass(frozen=True)
class ModelInfo:
    name: str
    title: str
    source: str
    build: Callable[..., Network]


MODELS: dict[str, ModelInfo] = {
    m.name: m for m in (
        ModelInfo("mobilenet_v1", "MobileNet V1",
                  "Howard et al. 2017, MobileNets, Table 1", mobilenet_v1),
        ModelInfo("mobilenet_v2", "MobileNet V2",
                  "Sandler et al. 2018, MobileNetV2, Table 2", mobilenet_v2),
    )
}


def check_alpha(alpha: object) -> float:
    a = check_number("alpha", alpha, accepted="a finite number > 0")
    if a <= 0:
        raise SpecError(f"alpha must be a finite number > 0, got {alpha!r}")
    return float(a)


def check_classes(num_classes: object) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise SpecError(f"classes must be an integer >= 1, got {num_classes!r}")
    return num_classes


def check_model(model: object) -> ModelInfo:
    info = MODELS.get(model) if isinstance(model, str) else None
    if info is None:
        raise SpecError(f"unknown model {model!r}; available: {', '.join(MODELS)}")
    return info


def check_rounding(model: str, rounding: object) -> WidthRule:
    rules = WIDTH_RULES[model]
    if rounding not in rules:
        raise SpecError(f"unknown channel rounding {rounding!r} for {model}; available: {', '.join(rules)}")
    return rules[rounding]  # type: ignore[index]


@lru_cache(maxsize=256)
def _cached(model: str, alpha: float, num_classes: int, rounding: str, full_conv: bool) -> Network:
    return MODELS[model].build(alpha, num_classes, WIDTH_RULES[model][rounding], full_conv)


def get_spec(model: str, alpha: float = 1.0, num_classes: int = DEFAULT_CLASSES,
             rounding: str = "torchvision", full_conv: bool = False) -> Network:
    """The spec of a zoo model; specs are immutable, so equal configs share one. ``rounding``
    names the implementation whose channel rule to use (:data:`~flopcalc.scaling.WIDTH_RULES`);
    ``full_conv`` replaces each depthwise + pointwise pair by one standard convolution."""
    info = check_model(model)
    check_rounding(info.name, rounding)
    return _cached(info.name, check_alpha(alpha), check_classes(num_classes), rounding, bool(full_conv))

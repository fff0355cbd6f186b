"""Width and resolution rules: how a width multiplier alpha becomes channel counts."""

from __future__ import annotations

DEFAULT_RESOLUTION = 224  # both papers' full input size; rho scales from it


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``v`` channels to the nearest multiple of ``divisor`` (ties up), at least
    ``min_value`` (default ``divisor``) and never below 90% of ``v``.

    This is torchvision's (and TF-Slim V2's) ``_make_divisible``; the 90% floor keeps
    rounding from removing more than 10% of a layer's channels.
    """
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class WidthRule:
    """How one implementation turns a paper width ``c`` and a width multiplier ``alpha`` into
    channels. ``role`` says where the width is used (``"stem"``, ``"block"``, ``"head"``):
    implementations differ in where they round, and a convention that reproduces one of them
    (:mod:`flopcalc.conventions`) picks its rule by name; the tables in the zoo stay the same."""

    def __init__(self, name: str, doc: str, fn):
        self.name, self.doc, self._fn = name, doc, fn

    def __call__(self, c: float, alpha: float, role: str = "block") -> int:
        return self._fn(c, alpha, role)

    def __repr__(self) -> str:
        return f"WidthRule({self.name!r})"


def _keras(c: float, alpha: float, role: str) -> int:
    # keras.applications.MobileNetV2: block outputs _make_divisible(int(filters * alpha), 8),
    # the stem and the last conv _make_divisible(c * alpha, 8) without the int().
    return make_divisible(int(c * alpha)) if role == "block" else make_divisible(c * alpha)


WIDTH_RULES: dict[str, dict[str, WidthRule]] = {
    # model family -> rule name -> rule; "torchvision" is every family's default
    "mobilenet_v1": {
        "torchvision": WidthRule("torchvision", "make_divisible(c * alpha, 8)",
                                 lambda c, a, role: make_divisible(c * a)),
        "tfslim": WidthRule("tfslim", "max(int(c * alpha), 8): truncation, at least 8",
                            lambda c, a, role: max(int(c * a), 8)),
        "keras": WidthRule("keras", "int(c * alpha): truncation, no floor",
                           lambda c, a, role: int(c * a)),
    },
    "mobilenet_v2": {
        "torchvision": WidthRule("torchvision", "make_divisible(c * alpha, 8)",
                                 lambda c, a, role: make_divisible(c * a)),
        "tfslim": WidthRule("tfslim", "make_divisible(c * alpha, 8), as torchvision",
                            lambda c, a, role: make_divisible(c * a)),
        "keras": WidthRule("keras", "blocks make_divisible(int(c * alpha), 8), stem and last conv "
                                    "make_divisible(c * alpha, 8)", _keras),
    },
}


def resolution_from_rho(rho: float, base: int = DEFAULT_RESOLUTION) -> int:
    """The MobileNet paper's resolution multiplier: input size ``round(base * rho)``."""
    return round(base * rho)

"""Width and resolution rules: how a width multiplier alpha becomes channel counts."""

from __future__ import annotations

DEFAULT_RESOLUTION = 224  # both papers' full input size; rho scales from it

# The one grid of widths and resolutions: sweep's default resolutions, and the configs verify --grid
# checks, bench --grid times and the calibration predicts (each over its models).
GRID_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.4)
GRID_RESOLUTIONS = (96, 128, 160, 192, 224)


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


def as_pair(resolution) -> tuple[int, int]:
    """An input size as ``(height, width)``: ``224`` is ``(224, 224)``; a pair stays itself (unchecked:
    :func:`flopcalc.walk.check_resolution` says what a bad one is)."""
    return tuple(resolution) if isinstance(resolution, (tuple, list)) else (resolution, resolution)


def resolution_from_rho(rho: float, base: int = DEFAULT_RESOLUTION) -> int:
    """The MobileNet paper's resolution multiplier: input size ``round(base * rho)``."""
    return round(base * rho)

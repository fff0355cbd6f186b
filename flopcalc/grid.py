"""Many configs at once: the alpha x resolution grid of a model (``flopcalc sweep``), with the
published ImageNet top-1 of each config that has a published checkpoint."""

from __future__ import annotations

from dataclasses import dataclass

from .conventions import CONVENTIONS, analyze
from .published import top1

# The configs each family's published checkpoints cover (TF-Slim's tables, torchvision).
PUBLISHED_ALPHAS = {"mobilenet_v1": (0.25, 0.5, 0.75, 1.0), "mobilenet_v2": (0.35, 0.5, 0.75, 1.0, 1.3, 1.4),
                    "mobilenet_v3_large": (0.75, 1.0), "mobilenet_v3_small": (0.75, 1.0)}
DEFAULT_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.4)
DEFAULT_RESOLUTIONS = (96, 128, 160, 192, 224)


@dataclass(frozen=True)
class Point:
    model: str
    alpha: float
    resolution: tuple[int, int]
    num_classes: int
    params: int | None
    macs: int | None
    reported: int | None
    top1: float | None
    top1_source: str | None


def sweep(model: str, alphas, resolutions, num_classes: int | None = None, convention: str = "pytorch") -> list[Point]:
    conv = CONVENTIONS[convention]
    out = []
    for alpha in alphas:
        for res in resolutions:
            a = analyze(model, alpha, res, num_classes, convention=convention)
            h, w = a.config["resolution"]
            pub = top1(model, float(alpha), h, conv.name) if h == w else None
            out.append(Point(model, float(alpha), (h, w), a.config["num_classes"], a.total.params, a.total.macs,
                             None if a.total.macs is None else a.total.macs * conv.flops_per_mac,
                             pub[0] if pub else None, pub[1] if pub else None))
    return out

"""Many configs at once: the alpha x resolution grid of a model (``flopcalc sweep``), with the
published ImageNet top-1 of each config that has a published checkpoint."""

from __future__ import annotations

from dataclasses import dataclass

from .conventions import CONVENTIONS, analyze
from .published import top1
from .walk import DEFAULT_CONVENTION
from .zoo import model_name



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


def sweep(model, alphas, resolutions, num_classes: int | None = None,
          convention: str = DEFAULT_CONVENTION) -> list[Point]:
    """The alpha x resolution grid of one model (``flopcalc sweep``)."""
    return all_points([model], resolutions, alphas, convention, num_classes=num_classes)


# ------------------------------------------------------------------------- budgets

BUDGET_ALPHAS = tuple(round(0.05 * i, 2) for i in range(2, 41))  # 0.10, 0.15, ..., 2.00


@dataclass(frozen=True)
class Fit:
    point: Point
    distance: float = 0.0  # |macs - target| / target, for --near


def all_points(models, resolutions, alphas=BUDGET_ALPHAS, convention: str = DEFAULT_CONVENTION,
               small_input: bool = False, num_classes: int | None = None) -> list[Point]:
    """Every model x alpha x resolution, in that order (``num_classes`` None: the convention's)."""
    out = []
    conv = CONVENTIONS[convention]
    for model in models:
        for alpha in alphas:
            for res in resolutions:
                a = analyze(model, alpha, res, num_classes, convention=convention, small_input=small_input)
                h, w = a.config["resolution"]
                name = model_name(model)
                published = h == w and (isinstance(model, str) or _zoo_depth(model))
                pub = top1(name, float(alpha), h, conv.name) if published else None
                reported = None if a.total.macs is None else a.total.macs * conv.flops_per_mac
                out.append(Point(name, float(alpha), (h, w), a.config["num_classes"], a.total.params,
                                 a.total.macs, reported, pub[0] if pub else None, pub[1] if pub else None))
    return out


def budget(points: list[Point], macs: int | None, params: int | None) -> list[Point]:
    """The configs within the budget, the most multiply-adds (the most capable) first."""
    fit = [p for p in points if (macs is None or p.macs <= macs) and (params is None or p.params <= params)]
    return sorted(fit, key=lambda p: (-p.macs, -p.params, p.model, p.alpha))


def near(points: list[Point], target: int, per_model: int = 3) -> list[Fit]:
    """For each model, the ``per_model`` configs whose multiply-adds are closest to ``target``:
    how configs of different models are matched at equal cost."""
    out: list[Fit] = []
    for model in dict.fromkeys(p.model for p in points):
        mine = sorted((p for p in points if p.model == model), key=lambda p: (abs(p.macs - target), p.params))
        out += [Fit(p, abs(p.macs - target) / target) for p in mine[:per_model]]
    return out


def _zoo_depth(family) -> bool:
    """A zoo model's family at the zoo's own depth (a published checkpoint's top-1 is for that network;
    a spec file of another name has none anyway)."""
    from .zoo import MODELS
    info = MODELS.get(family.name)
    return info is not None and info.family.depth == family.depth

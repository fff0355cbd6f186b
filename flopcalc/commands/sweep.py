"""``flopcalc sweep`` and ``budget``: many configs at once."""

from __future__ import annotations

import argparse

from ..errors import UsageError
from ..output import emit, render
from ..scaling import resolution_from_rho
from ..zoo import DEFAULT_CLASSES, DEFAULT_RESOLUTION, MODELS, model_name
from .args import (ENGINE_CHOICES, add_convention, add_format,
                   add_model, alpha_of, alpha_type, integer,
                   list_of, model_type, number, resolution_type, rho_type)


def add_sweep(sub) -> None:
    p = sub.add_parser("sweep", help="totals over a grid of alphas and resolutions, with published top-1",
                       description="The params and macs of a model over a grid of width multipliers and "
                                   "resolutions (as the TF-Slim checkpoint tables list them), with the published "
                                   "ImageNet top-1 beside each config that has a published checkpoint.")
    add_model(p)
    p.add_argument("--alpha", type=list_of(alpha_type, "--alpha"), default=None, metavar="A,A,...",
                   help="width multipliers (default: those with published checkpoints)")
    res = p.add_mutually_exclusive_group()
    res.add_argument("--resolution", type=list_of(resolution_type, "--resolution"), default=None, metavar="R,R,...",
                     help="input sizes, R or HEIGHTxWIDTH (default 96,128,160,192,224)")
    res.add_argument("--rho", type=list_of(rho_type, "--rho"), default=None, metavar="P,P,...",
                     help=f"resolution multipliers: inputs round({DEFAULT_RESOLUTION} * P)")
    p.add_argument("--classes", type=integer("classes", 1), default=None, metavar="N",
                   help=f"number of classes (default {DEFAULT_CLASSES}; under --convention tfslim 1001)")
    add_convention(p)
    add_format(p)


def add_budget(sub) -> None:
    p = sub.add_parser("budget", help="every config that fits a macs, params or predicted-latency (--ms) budget, or "
                                      "those nearest a target",
                       description="Every zoo config (alpha 0.1 to 2.0 in steps of 0.05, resolutions from a list) "
                                   "within a budget of multiply-adds and parameters, the most capable first, with "
                                   "the published ImageNet top-1 where a checkpoint was published; or, with --near, "
                                   "each model's configs closest to a macs target (pairs at equal cost).")
    p.add_argument("--madds", type=integer("madds", 1), default=None, metavar="N",
                   help="at most N multiply-adds per image")
    p.add_argument("--params", type=integer("params", 1), default=None, metavar="N", help="at most N parameters")
    p.add_argument("--near", type=integer("near", 1), default=None, metavar="N",
                   help="instead: each model's 3 configs with macs nearest N")
    p.add_argument("--ms", type=number("ms", lambda v: v > 0, "a finite number > 0"), default=None, metavar="N",
                   help="at most N milliseconds per forward pass, as this machine's profile predicts it (flopcalc "
                        "machine; default models: V1 and V2, the calibrated ones)")
    p.add_argument("--backend", choices=ENGINE_CHOICES, default="torch",
                   help="with --ms: the engine whose calibration predicts (flopcalc machine --backend B)")
    p.add_argument("--batch", type=integer("batch", 1), default=1, metavar="N",
                   help="with --ms: images per forward pass (default 1)")
    p.add_argument("--profile", default=None, metavar="FILE",
                   help="with --ms: the machine profile (default: $FLOPCALC_MACHINE, else "
                        "$XDG_CACHE_HOME/flopcalc/machine.json)")
    p.add_argument("--resolution", type=list_of(resolution_type, "--resolution"), default=None, metavar="R,R,...",
                   help="input sizes (default 96,128,160,192,224)")
    p.add_argument("--models", type=list_of(model_type, "--models"), default=None, metavar="M,M,...",
                   help="zoo models or spec files (default: every zoo model)")
    p.add_argument("--small-input", action="store_true",
                   help="the small-image adaptation (stem and first strided stage at stride 1), as flopcalc train "
                        "uses for images of 64 pixels or less")
    add_convention(p)
    add_format(p)


def run_sweep(args: argparse.Namespace) -> int:
    from ..scaling import GRID_RESOLUTIONS
    from ..sweep import sweep
    from ..views.sweep import sweep_document
    from ..zoo import MODELS
    resolutions = ([resolution_from_rho(r) for r in args.rho] if args.rho else args.resolution
                   or GRID_RESOLUTIONS)
    info = MODELS.get(model_name(args.model))
    alphas = args.alpha or (info.published_alphas if info else (alpha_of(args),))
    points = sweep(args.model, alphas, resolutions, args.classes, args.convention)
    emit(render(sweep_document(points, args.convention), args.format))
    return 0


def run_budget(args: argparse.Namespace) -> int:
    from ..scaling import GRID_RESOLUTIONS
    from ..sweep import all_points, budget, near
    from ..views.sweep import budget_document
    if args.madds is None and args.params is None and args.near is None and args.ms is None:
        raise UsageError("flopcalc budget: error: give --madds N, --params N and/or --ms N, or --near N")
    if args.ms is None and (args.backend != "torch" or args.batch != 1 or args.profile):
        raise UsageError("flopcalc budget: error: --backend, --batch and --profile go with --ms")
    if args.ms is not None:
        return _budget_ms(args)
    models = args.models or list(MODELS)
    points = all_points(models, args.resolution or GRID_RESOLUTIONS, convention=args.convention,
                        small_input=args.small_input)
    if args.near is not None:
        emit(render(budget_document(points, None, None, args.near, near(points, args.near), args.convention),
                    args.format))
        return 0
    fit = budget(points, args.madds, args.params)
    if not fit:
        cheapest = min(points, key=lambda p: (p.macs, p.params))
        h, w = cheapest.resolution
        raise UsageError(f"flopcalc budget: error: no config fits {args.madds or 0:,} macs"
                         + (f" and {args.params:,} params" if args.params else "")
                         + f"; the cheapest is {cheapest.model} alpha {cheapest.alpha:g} at {h}x{w}: "
                         f"{cheapest.macs:,} macs, {cheapest.params:,} params")
    emit(render(budget_document(fit, args.madds, args.params, convention=args.convention), args.format))
    return 0


def _budget_ms(args: argparse.Namespace) -> int:
    """The configs predicted under a latency budget (torch-free: the profile predicts)."""
    from ..latency import load_machine, predicted_points, predictor_for
    from ..scaling import GRID_RESOLUTIONS
    from ..sweep import all_points, budget
    from ..views.sweep import latency_budget_document
    if args.near is not None:
        raise UsageError("flopcalc budget: error: --near with --ms: give one of them")
    machine = load_machine(args.profile)
    predictor_for(machine, args.backend)  # no calibration for that engine: one line saying how to make it
    models = args.models or ["mobilenet_v1", "mobilenet_v2"]
    points = all_points(models, args.resolution or GRID_RESOLUTIONS, convention=args.convention,
                        small_input=args.small_input)
    if args.madds is not None or args.params is not None:
        points = budget(points, args.madds, args.params)
    timed = predicted_points(points, machine, args.backend, args.batch, models)
    fit = [(p, t) for p, t in timed if t * 1e3 <= args.ms]
    if not fit:
        if not timed:
            raise UsageError("flopcalc budget: error: no config fits the --madds/--params budget")
        p, t = min(timed, key=lambda x: x[1])
        h, w = p.resolution
        raise UsageError(f"flopcalc budget: error: no config is predicted under {args.ms:g} ms on {args.backend} at "
                         f"batch {args.batch}; the fastest is {p.model} alpha {p.alpha:g} at {h}x{w}: "
                         f"{t * 1e3:.3g} ms, {p.macs:,} macs")
    fit.sort(key=lambda x: (-x[0].macs, x[1]))
    emit(render(latency_budget_document(fit, args.ms, args.backend, args.batch, machine, args.convention),
                args.format))
    return 0


PARSERS = {"sweep": add_sweep, "budget": add_budget}
RUNS = {"sweep": run_sweep, "budget": run_budget}

"""``flopcalc verify``: the built PyTorch model checked against fvcore and FlopCounterMode."""

from __future__ import annotations

import argparse

from ..errors import UsageError
from ..output import emit, render
from ..scaling import GRID_ALPHAS, GRID_RESOLUTIONS
from ..zoo import DEFAULT_CLASSES, MODELS
from .args import (add_config_args, add_format,
                   add_model, add_runtime_args, alpha_of, integer,
                   resolution_of)
from .runtime import progress_of, torch_door
from ..scaling import as_pair


def add_verify(sub) -> None:
    p = sub.add_parser("verify", help="build the PyTorch model and check every figure against fvcore",
                       description="Build the real PyTorch model from the same spec and check every layer's "
                                   "output shape, params and counts against fvcore and torch's "
                                   "FlopCounterMode. Exit 0 when all agree, 1 on any mismatch.")
    add_model(p, optional=True)
    add_config_args(p, grid=True)
    p.add_argument("--grid", action="store_true", help=(
        f"check every model x alpha {{{', '.join(map(str, GRID_ALPHAS))}}} x resolution "
        f"{{{GRID_RESOLUTIONS[0]}, ..., {GRID_RESOLUTIONS[-1]}}}"))
    p.add_argument("--reference", action="store_true", help=(
        "also run the NumPy reference kernels: outputs vs torch, executed vs formula macs, "
        "and the macs that multiply zero padding"))
    p.add_argument("--max-memory", type=integer("max-memory", 1), default=None, metavar="BYTES",
                   help="refuse a model whose estimated size exceeds this (default: half of RAM)")
    add_runtime_args(p)
    add_format(p)


def run_verify(args: argparse.Namespace) -> int:
    if args.model is None and not args.grid:
        raise UsageError("flopcalc verify: error: MODEL is required unless --grid is given "
                         f"(one of: {', '.join(MODELS)})")
    return _verify(args)


def _verify(args: argparse.Namespace) -> int:
    """``flopcalc verify``: exit 0 when everything agrees, 1 on any mismatch."""
    torch_door(args, "torch", needs=("fvcore", "numpy"))
    from ..nn.verify import check_fits, default_memory_limit, verify, verify_grid
    from ..views.verify import verify_grid_document, verify_document
    classes = DEFAULT_CLASSES if args.classes is None else args.classes
    given = resolution_of(args) if (args.resolution or args.rho) else None
    if args.grid:
        from ..walk import count_layers
        models = [args.model] if args.model else list(MODELS)
        alphas = (args.alpha,) if args.alpha is not None else GRID_ALPHAS
        resolutions = (given,) if given else GRID_RESOLUTIONS
        for m in models:  # refuse before any work if the largest config would not fit
            check_fits(count_layers(m, max(alphas), max(resolutions, key=lambda r: max(as_pair(r))),
                               classes), args.max_memory or default_memory_limit())
        with progress_of(args, "verify --grid") as progress:
            reports = verify_grid(models, alphas, resolutions, classes, args.max_memory, progress)
        emit(render(verify_grid_document(reports), args.format))
        return 0 if all(r.ok for r in reports) else 1
    report = verify(args.model, alpha_of(args), resolution_of(args), classes, args.max_memory,
                    args.reference)
    emit(render(verify_document(report), args.format))
    return 0 if report.ok else 1



PARSERS = {"verify": add_verify}
RUNS = {"verify": run_verify}

"""``flopcalc report``: the Markdown reports."""

from __future__ import annotations

import argparse
import sys

from ..errors import UsageError
from ..output import emit, render
from .args import (add_format,
                   add_runtime_args, list_of)


def add_report(sub) -> None:
    p = sub.add_parser("report", help="write the Markdown reports (with plots) under reports/",
                       description="Write the Markdown reports: per model, scaling, conventions, published "
                                   "figures, verification, training and experiments, latency; with PNG plots "
                                   "(needs matplotlib). Sections that need torch, the peer tools, training or a "
                                   "timed machine read results recorded under DIR/data and DIR/experiments; "
                                   "--record runs those commands first and records their output.")
    p.add_argument("--out", default="reports", metavar="DIR", help="the reports folder (default reports)")
    p.add_argument("--record", type=list_of(record_step, "--record"), nargs="?", const=None, default=False,
                   metavar="STEP,...", help="first run and record: verify, reconcile, train, bench (default all; "
                                            "slow: minutes each; bench wants a quiet machine and 'flopcalc machine')")
    p.add_argument("--no-plots", action="store_true", help="Markdown only (no matplotlib needed)")
    add_runtime_args(p)
    add_format(p)


def run_report(args: argparse.Namespace) -> int:
    from pathlib import Path
    from .. import reports
    from ..views.report import files_document
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"flopcalc report: error: --out {args.out!r} is a file, not a folder")
    if args.record is not False:
        reports.record(out, args.record or reports.RECORD_STEPS, log=lambda m: print(m, file=sys.stderr),
                       threads=args.threads)
    emit(render(files_document(reports.write(out, plots=not args.no_plots), out, reports.missing(out)),
                args.format))
    return 0


def record_step(text: str) -> str:
    from ..reports import RECORD_STEPS
    if text not in RECORD_STEPS:
        raise argparse.ArgumentTypeError(f"unknown step {text!r}; known: {', '.join(RECORD_STEPS)}")
    return text



PARSERS = {"report": add_report}
RUNS = {"report": run_report}

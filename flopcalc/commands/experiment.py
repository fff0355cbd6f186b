"""``flopcalc experiment``: the papers' claims, trained."""

from __future__ import annotations

import argparse

from ..output import emit, render
from .args import (add_format,
                   add_runtime_args, integer)
from ..views.training import EXPERIMENTS
from .runtime import say_load, torch_door


def add_experiment(sub) -> None:
    p = sub.add_parser("experiment", help="the MobileNet papers' claims, trained: accuracy beside exact cost",
                       description="Train the models a claim compares (several seeds each) and write "
                                   "DIR/results.jsonl, DIR/README.md (the table) and DIR/accuracy_vs_macs.png. "
                                   "Run again with the same --out to go on where it stopped.")
    p.add_argument("name", metavar="NAME", choices=EXPERIMENTS,
                   help=", ".join(EXPERIMENTS[:-1]) + " or " + EXPERIMENTS[-1])
    p.add_argument("--data", default="digits", metavar="SOURCE", help="digits (default), cifar10:DIR or folder:DIR")
    p.add_argument("--out", required=True, metavar="DIR", help="the experiment's folder")
    p.add_argument("--epochs", type=integer("epochs", 1), default=20, metavar="N",
                   help="epochs per model (default 20: every experiment under 15 minutes on 2 cores on digits)")
    p.add_argument("--seeds", type=integer("seeds", 1), default=3, metavar="K", help="seeds per model (default 3)")
    p.add_argument("--subset", type=integer("subset", 1), default=None, metavar="N",
                   help="train on the first N training images only (a quick trial)")
    add_runtime_args(p)
    add_format(p)


def run_experiment(args: argparse.Namespace) -> int:
    torch_door(args, "torch,train")
    from .. import experiments
    from ..cpuload import LoadMeter
    meter = LoadMeter()
    summary, trained = experiments.run(args.name, args.data, args.out, epochs=args.epochs, seeds=args.seeds,
                              subset=args.subset, progress=args.progress, threads=args.threads)
    # the load is recorded either way; the warning speaks of times, so only when this run trained
    summary["load"] = (say_load(meter, args.command) if trained else meter.stop()).to_json()
    from ..views.training import experiment_document
    emit(render(experiment_document(summary), args.format))
    return 0



PARSERS = {"experiment": add_experiment}
RUNS = {"experiment": run_experiment}

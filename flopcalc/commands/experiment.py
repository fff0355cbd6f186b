"""``flopcalc experiment``: the papers' claims, trained."""

from __future__ import annotations

import argparse

from ..errors import UsageError
from ..output import emit, render
from .args import (add_format,
                   add_runtime_args, integer, list_of)
from ..views.training import EXPERIMENTS
from .runtime import say_load, torch_door

NAMES = EXPERIMENTS + ("backends",)


def add_experiment(sub) -> None:
    p = sub.add_parser("experiment", help="the MobileNet papers' claims, trained: accuracy beside exact cost",
                       description="Train the models a claim compares (several seeds each) and write "
                                   "DIR/results.jsonl, DIR/README.md (the table) and DIR/accuracy_vs_macs.png. "
                                   "Run again with the same --out to go on where it stopped.")
    p.add_argument("name", metavar="NAME", choices=NAMES,
                   help=", ".join(NAMES[:-1]) + " or " + NAMES[-1] + " (the same MobileNets on every installed "
                        "engine, float32 and int8: speed, where the time goes, depthwise efficiency, and int8's "
                        "accuracy on the digits)")
    p.add_argument("--data", default="digits", metavar="SOURCE", help="digits (default), cifar10:DIR or folder:DIR")
    p.add_argument("--out", required=True, metavar="DIR", help="the experiment's folder")
    p.add_argument("--epochs", type=integer("epochs", 1), default=20, metavar="N",
                   help="epochs per model (default 20: every experiment under 15 minutes on 2 cores on digits)")
    p.add_argument("--seeds", type=integer("seeds", 1), default=3, metavar="K", help="seeds per model (default 3)")
    p.add_argument("--subset", type=integer("subset", 1), default=None, metavar="N",
                   help="train on the first N training images only (a quick trial)")
    p.add_argument("--models", type=list_of(_zoo_model, "--models"), default=None, metavar="M,M,...",
                   help="backends: the models timed (default: V1, V2, V3-Large and V3-Small)")
    p.add_argument("--engines", type=list_of(_engine, "--engines"), default=None, metavar="E,E,...",
                   help="backends: the engines (default: every installed one of torch, onnxruntime, openvino, "
                        "executorch, ncnn)")
    add_runtime_args(p)
    add_format(p)


def _zoo_model(text: str) -> str:
    from ..zoo import MODELS
    if text not in MODELS:
        raise argparse.ArgumentTypeError(f"unknown model {text!r}; known: {', '.join(MODELS)}")
    return text


def _engine(text: str) -> str:
    from .args import ENGINE_CHOICES
    if text not in ENGINE_CHOICES:
        raise argparse.ArgumentTypeError(f"unknown engine {text!r}; known: {', '.join(ENGINE_CHOICES)}")
    return text


def _backends(args: argparse.Namespace) -> int:
    torch_door(args, "torch,train,engines")
    from ..cpuload import LoadMeter
    from ..experiments import backends
    from ..views.backends import backends_document
    meter = LoadMeter()
    summary, measured = backends.run(args.out, models=args.models or backends.MODELS, engines=args.engines,
                                     epochs=args.epochs, subset=args.subset, progress=args.progress,
                                     threads=args.threads)
    summary["load"] = (say_load(meter, args.command) if measured else meter.stop()).to_json()
    emit(render(backends_document(summary), args.format))
    return 0


def run_experiment(args: argparse.Namespace) -> int:
    if args.name == "backends":
        return _backends(args)
    if args.models or args.engines:
        raise UsageError(f"flopcalc experiment: error: --models and --engines are for backends, not {args.name}")
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

"""``flopcalc train``, ``evaluate`` and ``predict``: each command's parser, and their run."""

from __future__ import annotations

import argparse

from ..output import emit, render
from ..training.schedule import AUGMENTS, DEFAULTS, SCHEDULES, Recipe
from ..zoo import DEFAULT_RESOLUTION
from .args import add_format, add_model, add_runtime_args, alpha_of, alpha_type, integer, number
from .runtime import progress_of, torch_door

SMALL, LARGE = DEFAULTS["small"], DEFAULTS["large"]


def add_train(sub) -> None:
    p = sub.add_parser("train", help="train a model on embedded or your data; accuracy beside its cost",
                       description="Train MODEL with MobileNet's recipe (SGD with momentum 0.9, a linear warm-up, then "
                                   f"the --schedule, {Recipe.schedule} by default) on --data, "
                                   "writing DIR/checkpoint.pt (atomically, every epoch), DIR/metrics.jsonl and "
                                   "DIR/results.jsonl; the best accuracy is printed beside the params and macs "
                                   "flopcalc counts for exactly the model trained. Under torchrun it trains with "
                                   "DistributedDataParallel.")
    add_model(p)
    p.add_argument("--data", required=True, metavar="SOURCE",
                   help="digits (scikit-learn's 1,797 8x8 digits, split 80/20), cifar10:DIR (CIFAR-10's python "
                        "batches) or folder:DIR (DIR/train/<class>/ and DIR/val/<class>/ of PNG or JPEG images)")
    p.add_argument("--out", required=True, metavar="DIR", help="the run's folder")
    p.add_argument("--alpha", type=alpha_type, default=None, metavar="A", help="width multiplier (default 1.0)")
    p.add_argument("--resolution", type=integer("resolution", 1), default=None, metavar="R",
                   help="train and test at R x R (default: the data's own size, 8 for digits, 32 for CIFAR-10; "
                        f"{DEFAULT_RESOLUTION} for folders); smaller images are upscaled")
    small = p.add_mutually_exclusive_group()
    small.add_argument("--small-input", dest="small_input", action="store_true", default=None,
                       help="run the stem and the first strided stage at stride 1 (default: when R <= 64)")
    small.add_argument("--no-small-input", dest="small_input", action="store_false",
                       help="keep the ImageNet strides whatever R")
    p.add_argument("--epochs", type=integer("epochs", 1), default=None, metavar="N",
                   help=f"epochs (default {SMALL['epochs']} for digits and CIFAR-10, {LARGE['epochs']} for folders)")
    p.add_argument("--batch-size", type=integer("batch-size", 1), default=None, metavar="N",
                   help=f"images per step, over all processes (default {SMALL['batch_size']}; "
                        f"{LARGE['batch_size']} for folders)")
    p.add_argument("--lr", type=number("lr", lambda v: v > 0, "a finite number > 0"), default=None, metavar="LR",
                   help=f"peak learning rate (default {SMALL['lr']} for digits and CIFAR-10, {LARGE['lr']} for "
                        "folders)")
    p.add_argument("--weight-decay", type=number("weight-decay", lambda v: v >= 0, "a finite number >= 0"),
                   default=None, metavar="WD", help=f"SGD weight decay (default {SMALL['weight_decay']:g}; "
                                                     f"{LARGE['weight_decay']:g} for folders)")
    p.add_argument("--schedule", choices=SCHEDULES, default=Recipe.schedule,
                   help=f"learning-rate schedule, stepped per batch: cosine (default; "
                        f"{100 * Recipe.warmup:.0f}%% linear warm-up, cosine decay), onecycle (linear warm-up and "
                        "decay), step (x0.1 at 50%% and 75%%)")
    p.add_argument("--augment", choices=AUGMENTS, default=Recipe.augment,
                   help="batch mixing on top of the data's own augmentation: MixUp (Beta(0.2)) or CutMix "
                        "(Beta(1)); default none")
    p.add_argument("--seed", type=integer("seed", 0), default=Recipe.seed, metavar="N",
                   help=f"seeds the weights, shuffling and augmentation (default {Recipe.seed})")
    p.add_argument("--resume", action="store_true", help="go on from DIR/checkpoint.pt (or start, if there is none)")
    p.add_argument("--workers", type=integer("workers", 0), default=0, metavar="N",
                   help="data-loading processes (default 0: load in the training process)")
    p.add_argument("--subset", type=integer("subset", 1), default=None, metavar="N",
                   help="train on the first N training images only (a quick trial)")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false", default=True,
                   help="keep the contiguous (NCHW) memory format (channels-last, the default, trains faster on CPU)")
    add_runtime_args(p)
    add_format(p)


def add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="top-1 and top-5 of a checkpoint on a data set",
                       description="Top-1 and top-5 accuracy of a flopcalc checkpoint (or a torchvision "
                                   "state_dict file) on a data set's test split, and images/s.")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a checkpoint.pt that flopcalc train wrote, or a "
                                                            "torchvision mobilenet_v2 / v3 state_dict file")
    p.add_argument("--data", required=True, metavar="SOURCE", help="digits, cifar10:DIR or folder:DIR (its val/)")
    p.add_argument("--batch-size", type=integer("batch-size", 1), default=256, metavar="N",
                   help="images per batch (default 256)")
    p.add_argument("--workers", type=integer("workers", 0), default=0, metavar="N",
                   help="data-loading processes (default 0)")
    p.add_argument("--eager", action="store_true", help="run the plain eager model, not the optimized one "
                                                        "(batch norm folded, channels-last)")
    add_runtime_args(p)
    add_format(p)


def add_predict(sub) -> None:
    p = sub.add_parser("predict", help="the top classes of image files",
                       description="The most probable classes of each image with their probabilities, by a "
                                   "flopcalc checkpoint or a torchvision state_dict file (ImageNet's 1000 classes).")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a flopcalc checkpoint or a torchvision state_dict file")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="PNG or JPEG files")
    p.add_argument("--top", type=integer("top", 1), default=5, metavar="K", help="classes per image (default 5)")
    p.add_argument("--eager", action="store_true", help="run the plain eager model, not the optimized one")
    add_runtime_args(p, progress=False)
    add_format(p)



def run_training(args: argparse.Namespace) -> int:
    asked = args.threads
    torch_door(args, "torch,train")
    from ..training import infer, loop
    from ..views import training as report
    if args.command == "train":
        recipe = loop.Recipe(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             weight_decay=args.weight_decay, schedule=args.schedule, augment=args.augment,
                             seed=args.seed)
        cfg = loop.RunConfig(args.model, args.data, args.out, alpha_of(args), args.resolution, args.small_input,
                             recipe, args.resume, args.workers, args.subset, args.channels_last, args.progress,
                             asked)
        summary = loop.train(cfg)
        if summary.record:  # rank 0 of a distributed run, or the only process
            import json
            from pathlib import Path
            history = [json.loads(line) for line in (Path(args.out) / "metrics.jsonl").read_text().splitlines()]
            emit(render(report.train_document(summary.record, history), args.format))
        return 0
    if not args.eager and args.command in ("evaluate", "predict"):
        from ..nn.runtime import keep_freed_memory
        keep_freed_memory()
    if args.command == "evaluate":
        with progress_of(args, "evaluate") as progress:
            result = infer.evaluate(args.checkpoint, args.data, args.batch_size, args.workers, eager=args.eager,
                                    progress=progress)
        emit(render(report.evaluate_document(result), args.format))
        return 0
    emit(render(report.predict_document(infer.predict_images(args.checkpoint, args.images, args.top, eager=args.eager)),
                args.format))
    return 0



PARSERS = {"train": add_train, "evaluate": add_evaluate, "predict": add_predict}
RUNS = {"train": run_training, "evaluate": run_training, "predict": run_training}

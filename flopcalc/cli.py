"""Command line: ``flopcalc COMMAND`` (``flopcalc --help`` lists them).

Start-up is kept light (argparse and the pure-Python core): torch, fvcore and numpy are
imported only by the commands that need them. Exit status: 0 done; 1 the command ran and
its answer is "no" (``verify`` found a mismatch); 2 the command could not do its job: bad
input, a missing dependency, output that cannot be written. Every exit 2 is one line on
stderr that names the value and what is accepted; never a traceback.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Callable, NoReturn, Sequence

from . import cpuload  # noqa: F401  (first: its import-time sample spans torch's import, for the thread default)
from .errors import UserError, one_line
from .output import BUILTIN_FORMATS, FormatError, check_format, render
from .scaling import resolution_from_rho
from .spec import SpecError
from .zoo import DEFAULT_CLASSES, DEFAULT_RESOLUTION, MODELS

VERSION = "0.1.0"
SCHEDULE_DEFAULT = "cosine"  # training.loop.Recipe's default (that module imports torch; the parser must not)


class UsageError(Exception):
    """A command line that cannot run; the message is the one line the user sees."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse prints usage + message; we want one line
        raise UsageError(f"{self.prog}: error: {message}")


def _number(what: str, accept: Callable[[float], bool], accepted: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and accept(value)):
            raise argparse.ArgumentTypeError(f"{what} must be {accepted}, got {text!r}")
        return value
    return parse


def _integer(what: str, minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be an integer >= {minimum}, got {text!r}")
        return value
    return parse


def _resolution(text: str) -> int | tuple[int, int]:
    """``224`` or ``HEIGHTxWIDTH`` (``320x240``)."""
    parts = text.lower().split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"resolution must be an integer >= 1 or HEIGHTxWIDTH (such as 320x240), got {text!r}")
    return values[0] if len(values) == 1 else (values[0], values[1])


def _list(parse: Callable[[str], object], what: str) -> Callable[[str], list]:
    """A comma-separated list, each element parsed by ``parse``; a bad element is named."""
    def parse_list(text: str) -> list:
        out = []
        for item in text.split(","):
            try:
                out.append(parse(item.strip()))
            except argparse.ArgumentTypeError as e:
                raise argparse.ArgumentTypeError(f"element {item.strip()!r} of {what} list {text!r}: {e}") from None
        return out
    return parse_list


def _model(text: str):
    """A zoo model's name, or a spec file's path (read here: a bad file is one line)."""
    if text in MODELS:
        return text
    from .specfile import looks_like_file, read
    from pathlib import Path
    if looks_like_file(text) or Path(text).exists():
        try:
            return read(text)
        except SpecError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    raise argparse.ArgumentTypeError(f"unknown model {text!r}; available: {', '.join(MODELS)}, "
                                     "or a spec file's path (.toml)")


def model_name(model) -> str:
    return model if isinstance(model, str) else model.name


def alpha_of(args: argparse.Namespace) -> float:
    """--alpha, else a spec file's own alpha, else 1."""
    if getattr(args, "alpha", None) is not None:
        return args.alpha
    return 1.0 if isinstance(args.model, str) or args.model is None else args.model.alpha


def _format(text: str) -> str:
    try:
        return check_format(text)
    except FormatError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


_alpha = _number("alpha", lambda v: v > 0, "a finite number > 0")
_rho = _number("rho", lambda v: resolution_from_rho(v) >= 1,
               f"a finite number with round({DEFAULT_RESOLUTION} * rho) >= 1")

FORMAT_HELP = (f"output format: {', '.join(BUILTIN_FORMATS)} (built in), or any of tabulate's table formats "
               "(grid, rst, latex_booktabs, html, tsv, mediawiki, ...; needs tabulate); default plain")


def _add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", type=_format, default="plain", metavar="FORMAT", help=FORMAT_HELP)


MODEL_HELP = f"one of: {', '.join(MODELS)}; or a spec file's path (.toml; flopcalc spec writes one)"


def _add_model(p: argparse.ArgumentParser, optional: bool = False,
               grid_help: str = " (with --grid: every zoo model when left out)") -> None:
    p.add_argument("model", metavar="MODEL", type=_model, nargs="?" if optional else None,
                   help=MODEL_HELP + (grid_help if optional else ""))


def _add_config_args(p: argparse.ArgumentParser, *, grid: bool = False, conventions: bool = True) -> None:
    p.add_argument("--alpha", type=_alpha, default=None, metavar="A",
                   help="width multiplier alpha, any finite A > 0 (default 1.0, or a spec file's alpha" + (
                       "; with --grid, every grid alpha)" if grid else ")"))
    res = p.add_mutually_exclusive_group()
    res.add_argument("--resolution", type=_resolution, default=None, metavar="R",
                     help=f"input size in pixels: R for R x R, or HEIGHTxWIDTH such as 320x240 "
                          f"(default {DEFAULT_RESOLUTION})")
    res.add_argument("--rho", type=_rho, default=None, metavar="P",
                     help=f"resolution multiplier: input round({DEFAULT_RESOLUTION} * P) square")
    p.add_argument("--classes", type=_integer("classes", 1), default=None, metavar="N",
                   help=f"number of classes, N >= 1 (default {DEFAULT_CLASSES}"
                        + ("; under --convention tfslim 1001)" if conventions else ")"))


def _add_runtime_args(p: argparse.ArgumentParser, progress: bool = True) -> None:
    """--threads for every command that runs torch; --progress / --quiet for the slow ones."""
    p.add_argument("--threads", type=_integer("threads", 1), default=None, metavar="N",
                   help="torch (and onnxruntime) threads (default: the CPUs other processes leave idle when it "
                        "starts, at least 1, so a second torch job does not collapse it; OMP_NUM_THREADS if set)")
    if progress:
        shown = p.add_mutually_exclusive_group()
        shown.add_argument("--progress", dest="progress", action="store_true", default=None,
                           help="show progress on stderr even when it is not a terminal (default: on a terminal)")
        shown.add_argument("--quiet", dest="progress", action="store_false", help="no progress")


def _add_machine_args(p: argparse.ArgumentParser) -> None:
    _add_runtime_args(p)
    p.add_argument("--profile", default=None, metavar="FILE",
                   help="the machine profile file (default: $FLOPCALC_MACHINE, else "
                        "$XDG_CACHE_HOME/flopcalc/machine.json)")
    _add_format(p)


def _torch(args: argparse.Namespace, extras: str = "torch") -> int:
    """The one door to torch: import it (or say in one line how to install it) and set its
    threads; the thread count taken."""
    try:
        from .nn.runtime import set_threads
    except ImportError as e:
        raise UsageError(f"flopcalc {args.command}: error: needs torch ({e}); install it with: "
                         f"pip install torch==2.13.0 'flopcalc[{extras}]'") from None
    return set_threads(getattr(args, "threads", None))


def _progress(args: argparse.Namespace, what: str | None = None, total: int = 0):
    from .progress import Progress
    return Progress(what or args.command, total, enabled=getattr(args, "progress", None))


def _convention_name(text: str) -> str:
    from .conventions import CONVENTIONS
    if text not in CONVENTIONS:
        raise argparse.ArgumentTypeError(f"unknown convention {text!r}; known: {', '.join(CONVENTIONS)}")
    return text


def _add_convention(p: argparse.ArgumentParser) -> None:
    p.add_argument("--convention", type=_convention_name, default="pytorch", metavar="NAME",
                   help="count as NAME counts: pytorch (default), paper, tfslim, keras, fvcore, flop_counter, "
                        "ptflops, ptflops_aten, thop, torchinfo (flopcalc conventions lists what each counts)")


def resolution_of(args: argparse.Namespace) -> int | tuple[int, int]:
    if args.rho is not None:
        return resolution_from_rho(args.rho)
    return DEFAULT_RESOLUTION if args.resolution is None else args.resolution


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="flopcalc", description=(
        "Exact output sizes, parameters and multiply-adds (macs) of MobileNet V1, V2, V3 Large and Small, and of "
        "any network of the family written as a spec file; the PyTorch models built, verified, trained and timed."))
    parser.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("table", help="per-layer shapes, params and macs of a model",
                       description="Per-layer shapes, params and multiply-adds (macs) of a model, then the "
                                   "totals by layer kind.")
    _add_model(p)
    _add_config_args(p)
    _add_convention(p)
    p.add_argument("--batch", type=_integer("batch", 1), default=1, metavar="N",
                   help="macs for a batch of N inputs (params do not change; shapes stay per input; default 1)")
    p.add_argument("--full-conv", action="store_true",
                   help="replace every depthwise + pointwise pair (V2: depthwise + projection) by one standard "
                        "conv with the same input and output channels and stride, as the V1 paper's Table 4 "
                        "\"Conv MobileNet\"")
    p.add_argument("--small-input", action="store_true",
                   help="the small-image adaptation (stem and first strided stage at stride 1), as flopcalc train "
                        "builds the model for images of 64 pixels or less: the cost of exactly the model trained")
    p.add_argument("--memory", action="store_true",
                   help="add each layer's memory traffic (bytes read and written, macs per byte) and the peak "
                        "activation memory")
    p.add_argument("--dtype", choices=("float32", "float16", "bfloat16", "int8"), default="float32",
                   help="bytes per value for --memory (default float32)")
    view = p.add_mutually_exclusive_group()
    view.add_argument("--depth", type=_integer("depth", 1), default=None, metavar="D",
                      help="rows for the blocks D levels down (1: features, avgpool, classifier; 2: each "
                           "block of features), each summing its layers, as torchinfo's depth")
    view.add_argument("--top", type=_integer("top", 1), default=None, metavar="N",
                      help="only the N layers with the most macs, most expensive first")
    view.add_argument("--totals", action="store_true",
                      help="only the totals by layer kind and the total (with --format csv: the totals as CSV; "
                           "the layer CSV has no total row, its macs column sums to the total)")
    _add_format(p)

    p = sub.add_parser("reconcile", help="the model under every counting convention, differences by cause",
                       description="The model's params and operation count as every convention counts them "
                                   "(flopcalc, the papers, TF-Slim, Keras, fvcore, FlopCounterMode, ptflops, "
                                   "thop, torchinfo), each difference from flopcalc's default split by cause, "
                                   "the causes adding up exactly.")
    _add_model(p)
    _add_config_args(p)
    p.add_argument("--live", action="store_true",
                   help="also run every installed counter on the real model and print what it measures beside "
                        "the prediction (exit 1 if any differs; needs flopcalc[torch], and flopcalc[peers] for "
                        "ptflops, thop, torchinfo and keras)")
    _add_runtime_args(p)
    _add_format(p)

    p = sub.add_parser("spec", help="write a model as a spec file (TOML) to edit and share",
                       description="Write MODEL as a spec file: its paper table (stem, one row per stage, head) "
                                   "in TOML. Every command that takes a MODEL takes such a file; edit it to "
                                   "describe a network of your own.")
    _add_model(p)
    p.add_argument("--alpha", type=_alpha, default=None, metavar="A",
                   help="the width multiplier the file records as its default (default: the model's, 1.0)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="write FILE instead of standard output (a file is replaced only once the new one is "
                        "complete; a link is followed; a device or FIFO is written into, never replaced)")

    p = sub.add_parser("train", help="train a model on embedded or your data; accuracy beside its cost",
                       description="Train MODEL with MobileNet's recipe (SGD with momentum 0.9, a linear warm-up, then "
                                   f"the --schedule, {SCHEDULE_DEFAULT} by default) on --data, "
                                   "writing DIR/checkpoint.pt (atomically, every epoch), DIR/metrics.jsonl and "
                                   "DIR/results.jsonl; the best accuracy is printed beside the params and macs "
                                   "flopcalc counts for exactly the model trained. Under torchrun it trains with "
                                   "DistributedDataParallel.")
    _add_model(p)
    p.add_argument("--data", required=True, metavar="SOURCE",
                   help="digits (scikit-learn's 1,797 8x8 digits, split 80/20), cifar10:DIR (CIFAR-10's python "
                        "batches) or folder:DIR (DIR/train/<class>/ and DIR/val/<class>/ of PNG or JPEG images)")
    p.add_argument("--out", required=True, metavar="DIR", help="the run's folder")
    p.add_argument("--alpha", type=_alpha, default=None, metavar="A", help="width multiplier (default 1.0)")
    p.add_argument("--resolution", type=_integer("resolution", 1), default=None, metavar="R",
                   help="train and test at R x R (default: the data's own size, 8 for digits, 32 for CIFAR-10; "
                        "224 for folders); smaller images are upscaled")
    small = p.add_mutually_exclusive_group()
    small.add_argument("--small-input", dest="small_input", action="store_true", default=None,
                       help="run the stem and the first strided stage at stride 1 (default: when R <= 64)")
    small.add_argument("--no-small-input", dest="small_input", action="store_false",
                       help="keep the ImageNet strides whatever R")
    p.add_argument("--epochs", type=_integer("epochs", 1), default=None, metavar="N",
                   help="epochs (default 40 for digits and CIFAR-10, 90 for folders)")
    p.add_argument("--batch-size", type=_integer("batch-size", 1), default=None, metavar="N",
                   help="images per step, over all processes (default 32; 64 for folders)")
    p.add_argument("--lr", type=_number("lr", lambda v: v > 0, "a finite number > 0"), default=None, metavar="LR",
                   help="peak learning rate (default 0.02 for digits and CIFAR-10, 0.025 for folders)")
    p.add_argument("--weight-decay", type=_number("weight-decay", lambda v: v >= 0, "a finite number >= 0"),
                   default=None, metavar="WD", help="SGD weight decay (default 1e-4; 4e-5 for folders)")
    p.add_argument("--schedule", choices=("cosine", "onecycle", "step"), default=SCHEDULE_DEFAULT,
                   help="learning-rate schedule, stepped per batch: cosine (default; 5%% linear warm-up, cosine "
                        "decay), onecycle (linear warm-up and decay), step (x0.1 at 50%% and 75%%)")
    p.add_argument("--augment", choices=("none", "mixup", "cutmix"), default="none",
                   help="batch mixing on top of the data's own augmentation: MixUp (Beta(0.2)) or CutMix "
                        "(Beta(1)); default none")
    p.add_argument("--seed", type=_integer("seed", 0), default=0, metavar="N",
                   help="seeds the weights, shuffling and augmentation (default 0)")
    p.add_argument("--resume", action="store_true", help="go on from DIR/checkpoint.pt (or start, if there is none)")
    p.add_argument("--workers", type=_integer("workers", 0), default=0, metavar="N",
                   help="data-loading processes (default 0: load in the training process)")
    p.add_argument("--subset", type=_integer("subset", 1), default=None, metavar="N",
                   help="train on the first N training images only (a quick trial)")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false", default=True,
                   help="keep the contiguous (NCHW) memory format (channels-last, the default, trains faster on CPU)")
    _add_runtime_args(p)
    _add_format(p)

    p = sub.add_parser("evaluate", help="top-1 and top-5 of a checkpoint on a data set",
                       description="Top-1 and top-5 accuracy of a flopcalc checkpoint (or a torchvision "
                                   "state_dict file) on a data set's test split, and images/s.")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a checkpoint.pt that flopcalc train wrote, or a "
                                                            "torchvision mobilenet_v2 / v3 state_dict file")
    p.add_argument("--data", required=True, metavar="SOURCE", help="digits, cifar10:DIR or folder:DIR (its val/)")
    p.add_argument("--batch-size", type=_integer("batch-size", 1), default=256, metavar="N",
                   help="images per batch (default 256)")
    p.add_argument("--workers", type=_integer("workers", 0), default=0, metavar="N",
                   help="data-loading processes (default 0)")
    p.add_argument("--eager", action="store_true", help="run the plain eager model, not the optimized one "
                                                        "(batch norm folded, channels-last)")
    _add_runtime_args(p)
    _add_format(p)

    p = sub.add_parser("predict", help="the top classes of image files",
                       description="The most probable classes of each image with their probabilities, by a "
                                   "flopcalc checkpoint or a torchvision state_dict file (ImageNet's 1000 classes).")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a flopcalc checkpoint or a torchvision state_dict file")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="PNG or JPEG files")
    p.add_argument("--top", type=_integer("top", 1), default=5, metavar="K", help="classes per image (default 5)")
    p.add_argument("--eager", action="store_true", help="run the plain eager model, not the optimized one")
    _add_runtime_args(p, progress=False)
    _add_format(p)

    p = sub.add_parser("experiment", help="the MobileNet papers' claims, trained: accuracy beside exact cost",
                       description="Train the models a claim compares (several seeds each) and write "
                                   "DIR/results.jsonl, DIR/README.md (the table) and DIR/accuracy_vs_macs.png. "
                                   "Run again with the same --out to go on where it stopped.")
    p.add_argument("name", metavar="NAME", choices=("width", "resolution", "v1-vs-v2", "relu6-int8", "augment"),
                   help="width, resolution, v1-vs-v2, relu6-int8 or augment")
    p.add_argument("--data", default="digits", metavar="SOURCE", help="digits (default), cifar10:DIR or folder:DIR")
    p.add_argument("--out", required=True, metavar="DIR", help="the experiment's folder")
    p.add_argument("--epochs", type=_integer("epochs", 1), default=20, metavar="N",
                   help="epochs per model (default 20: every experiment under 15 minutes on 2 cores on digits)")
    p.add_argument("--seeds", type=_integer("seeds", 1), default=3, metavar="K", help="seeds per model (default 3)")
    p.add_argument("--subset", type=_integer("subset", 1), default=None, metavar="N",
                   help="train on the first N training images only (a quick trial)")
    _add_runtime_args(p)
    _add_format(p)

    p = sub.add_parser("conventions", help="what each counting convention counts")
    _add_format(p)

    p = sub.add_parser("separable", help="standard vs depthwise-separable cost of one conv layer",
                       description="One convolution D_K x D_K, M -> N channels on a D_F x D_F map: the "
                                   "standard conv against its depthwise + pointwise factorization (the "
                                   "MobileNet paper's eq. (1), (4) and (5)).")
    p.add_argument("--kernel", type=_integer("kernel", 1), required=True, metavar="D_K",
                   help="kernel size D_K; padding is (D_K - 1) // 2, so an odd kernel at stride 1 keeps "
                        "the map size and an even kernel shrinks it by one")
    p.add_argument("--in", dest="in_c", type=_integer("in", 1), required=True, metavar="M",
                   help="M, input channels")
    p.add_argument("--out", dest="out_c", type=_integer("out", 1), required=True, metavar="N",
                   help="N, output channels")
    p.add_argument("--size", type=_integer("size", 1), required=True, metavar="D_F",
                   help="D_F, input height and width")
    p.add_argument("--stride", type=_integer("stride", 1), default=1, metavar="S",
                   help="stride of the standard and the depthwise conv (default 1)")
    p.add_argument("--alpha", type=_alpha, default=1.0, metavar="A",
                   help="width multiplier: alpha M -> alpha N channels, rounded (the V1 paper's Table 3; default 1)")
    p.add_argument("--rho", type=_number("rho", lambda v: v > 0, "a finite number > 0"), default=1.0, metavar="P",
                   help="resolution multiplier: a rho D_F map, rounded (default 1)")
    _add_format(p)

    p = sub.add_parser("sweep", help="totals over a grid of alphas and resolutions, with published top-1",
                       description="The params and macs of a model over a grid of width multipliers and "
                                   "resolutions (as the TF-Slim checkpoint tables list them), with the published "
                                   "ImageNet top-1 beside each config that has a published checkpoint.")
    _add_model(p)
    p.add_argument("--alpha", type=_list(_alpha, "--alpha"), default=None, metavar="A,A,...",
                   help="width multipliers (default: those with published checkpoints)")
    res = p.add_mutually_exclusive_group()
    res.add_argument("--resolution", type=_list(_resolution, "--resolution"), default=None, metavar="R,R,...",
                     help="input sizes, R or HEIGHTxWIDTH (default 96,128,160,192,224)")
    res.add_argument("--rho", type=_list(_rho, "--rho"), default=None, metavar="P,P,...",
                     help=f"resolution multipliers: inputs round({DEFAULT_RESOLUTION} * P)")
    p.add_argument("--classes", type=_integer("classes", 1), default=None, metavar="N",
                   help=f"number of classes (default {DEFAULT_CLASSES}; under --convention tfslim 1001)")
    _add_convention(p)
    _add_format(p)

    p = sub.add_parser("budget", help="every config that fits a macs (and params) budget, or those nearest a target",
                       description="Every zoo config (alpha 0.1 to 2.0 in steps of 0.05, resolutions from a list) "
                                   "within a budget of multiply-adds and parameters, the most capable first, with "
                                   "the published ImageNet top-1 where a checkpoint was published; or, with --near, "
                                   "each model's configs closest to a macs target (pairs at equal cost).")
    p.add_argument("--madds", type=_integer("madds", 1), default=None, metavar="N",
                   help="at most N multiply-adds per image")
    p.add_argument("--params", type=_integer("params", 1), default=None, metavar="N", help="at most N parameters")
    p.add_argument("--near", type=_integer("near", 1), default=None, metavar="N",
                   help="instead: each model's 3 configs with macs nearest N")
    p.add_argument("--resolution", type=_list(_resolution, "--resolution"), default=None, metavar="R,R,...",
                   help="input sizes (default 96,128,160,192,224)")
    p.add_argument("--models", type=_list(_model, "--models"), default=None, metavar="M,M,...",
                   help="zoo models or spec files (default: every zoo model)")
    p.add_argument("--small-input", action="store_true",
                   help="the small-image adaptation (stem and first strided stage at stride 1), as flopcalc train "
                        "uses for images of 64 pixels or less")
    _add_convention(p)
    _add_format(p)

    p = sub.add_parser("published", help="every published MobileNet figure, reproduced or explained",
                       description="Every figure the MobileNet papers, the TF-Slim checkpoint tables and "
                                   "torchvision publish, recomputed under its source's convention and compared "
                                   "at its printed precision; discrepancies listed with their likely cause.")
    p.add_argument("--discrepancies", action="store_true", help="list only the rows not reproduced")
    _add_format(p)

    p = sub.add_parser("models", help="the available models and their options")
    _add_format(p)

    p = sub.add_parser("machine", help="measure this machine's matmul peak and bandwidth for latency prediction",
                       description="Measure this machine with torch: float32 matrix-multiply peak, copy bandwidth, "
                                   "and (unless --quick) the per-kind efficiency of depthwise, pointwise, standard "
                                   "convolutions, activations, adds, pooling and linear layers at many shapes. "
                                   "The profile is cached (see --show) so that bench, and flopcalc.latency in "
                                   "Python, predict latency without torch afterwards.")
    p.add_argument("--quick", action="store_true", help="peak and bandwidth only (a few seconds): the roofline, "
                                                        "no calibrated prediction")
    p.add_argument("--show", action="store_true", help="print the cached profile without measuring")
    _add_machine_args(p)

    p = sub.add_parser("bench", help="measured images/s and per-layer latency beside the predicted",
                       description="Measure a model's speed (median of repeats after warm-up) beside the "
                                   "roofline max(2 macs / peak, bytes / bandwidth) and the calibrated prediction "
                                   "of flopcalc machine; per layer with --per-layer; the grid with --grid --predict.")
    _add_model(p, optional=True, grid_help=" (with --grid: that model over the grid's alphas and resolutions; "
                                          "left out: V1 and V2)")
    _add_config_args(p, conventions=False)
    p.add_argument("--batch", type=_list(_integer("batch", 1), "--batch"), default=None, metavar="N[,N]",
                   help="images per forward pass (default 1; with --grid: 1,32)")
    p.add_argument("--per-layer", action="store_true", help="time every layer inside the model; rank correlation "
                                                            "of predicted and measured layer times")
    p.add_argument("--top", type=_integer("top", 1), default=5, metavar="K",
                   help="with --per-layer: the K layers where prediction and measurement differ most (default 5)")
    p.add_argument("--backend", choices=("torch", "onnxruntime"), default="torch",
                   help="torch (default) or onnxruntime (the exported ONNX model; needs flopcalc[onnx])")
    p.add_argument("--eager", action="store_true", help="the plain eager model, not optimize_for_inference's")
    p.add_argument("--compare", action="store_true", help="eager, optimized and onnxruntime side by side")
    p.add_argument("--compile", action="store_true", help="add torch.compile to the optimized model (needs a C++ "
                                                          "compiler; slow to start)")
    p.add_argument("--default-allocator", action="store_true",
                   help="leave glibc's allocator as it is (by default bench keeps freed memory for reuse, so big "
                        "activations are not page-faulted in on every forward pass)")
    p.add_argument("--grid", action="store_true", help="every config of the verify grid (V1, V2 x 5 alphas x 5 "
                                                       "resolutions) at each --batch")
    p.add_argument("--predict", action="store_true", help="with --grid: measured beside predicted, and the share "
                                                          "within 15%%")
    _add_machine_args(p)

    p = sub.add_parser("export", help="write a model or checkpoint as ONNX",
                       description="Write a zoo model, spec file or checkpoint as an ONNX file (opset 17, batch "
                                   "norm folded into the convs), and check that its Conv and Gemm nodes carry "
                                   "exactly the analyzer's macs.")
    p.add_argument("model", metavar="MODEL|CHECKPOINT",
                   help=MODEL_HELP + "; or a checkpoint (.pt/.pth) that flopcalc train or torchvision wrote")
    _add_config_args(p, conventions=False)
    p.add_argument("--onnx", required=True, metavar="FILE", help="the ONNX file to write")
    p.add_argument("--batch", type=_integer("batch", 1), default=None, metavar="N",
                   help="a fixed batch of N (default: a dynamic batch dimension)")
    _add_runtime_args(p, progress=False)
    _add_format(p)

    p = sub.add_parser("report", help="write the Markdown reports (with plots) under reports/",
                       description="Write the Markdown reports: per model, scaling, conventions, published "
                                   "figures, verification, training and experiments, latency; with PNG plots "
                                   "(needs matplotlib). Sections that need torch, the peer tools, training or a "
                                   "timed machine read results recorded under DIR/data and DIR/experiments; "
                                   "--record runs those commands first and records their output.")
    p.add_argument("--out", default="reports", metavar="DIR", help="the reports folder (default reports)")
    p.add_argument("--record", type=_list(_record_step, "--record"), nargs="?", const=None, default=False,
                   metavar="STEP,...", help="first run and record: verify, reconcile, train, bench (default all; "
                                            "slow: minutes each; bench wants a quiet machine and 'flopcalc machine')")
    p.add_argument("--no-plots", action="store_true", help="Markdown only (no matplotlib needed)")
    _add_runtime_args(p)
    _add_format(p)

    p = sub.add_parser("verify", help="build the PyTorch model and check every figure against fvcore",
                       description="Build the real PyTorch model from the same spec and check every layer's "
                                   "output shape, params and counts against fvcore and torch's "
                                   "FlopCounterMode. Exit 0 when all agree, 1 on any mismatch.")
    _add_model(p, optional=True)
    _add_config_args(p, grid=True)
    p.add_argument("--grid", action="store_true", help=(
        "check every model x alpha {0.35, 0.5, 0.75, 1.0, 1.4} x resolution {96, ..., 224}"))
    p.add_argument("--reference", action="store_true", help=(
        "also run the NumPy reference kernels: outputs vs torch, executed vs formula macs, "
        "and the macs that multiply zero padding"))
    p.add_argument("--max-memory", type=_integer("max-memory", 1), default=None, metavar="BYTES",
                   help="refuse a model whose estimated size exceeds this (default: half of RAM)")
    _add_runtime_args(p)
    _add_format(p)
    return parser


def _record_step(text: str) -> str:
    from .reports import RECORD_STEPS
    if text not in RECORD_STEPS:
        raise argparse.ArgumentTypeError(f"unknown step {text!r}; known: {', '.join(RECORD_STEPS)}")
    return text


def _models_text() -> str:
    return "\n".join([
        "Any command that takes a MODEL also takes a spec file's path (flopcalc spec MODEL writes one).",
        "",
        "options (table, verify):",
        "  --alpha A        width multiplier, any finite A > 0 (default 1.0); channels",
        "                   make_divisible(c * A, 8) as torchvision; V2's last conv 1280 * max(1, A),",
        "                   V3's last conv 6x its input",
        f"  --resolution R   input R x R or HEIGHTxWIDTH, integers >= 1 (default {DEFAULT_RESOLUTION})",
        f"  --rho P          input round({DEFAULT_RESOLUTION} * P)",
        f"  --classes N      classifier outputs, N >= 1 (default {DEFAULT_CLASSES})",
    ])


def _run(args: argparse.Namespace) -> int:
    if args.command == "models":
        from .render import models_document
        emit(render(models_document(MODELS.values(), _models_text()), args.format))
        return 0
    if args.command == "separable":
        from .analyze import separable
        from .render import separable_document
        try:
            s = separable(args.kernel, args.in_c, args.out_c, args.size, args.stride, args.alpha, args.rho)
        except SpecError as e:
            raise UsageError(f"flopcalc separable: error: --size {args.size} is too small for "
                             f"this kernel and stride ({e})") from None
        emit(render(separable_document(s, args.alpha, args.rho), args.format))
        return 0
    if args.command == "sweep":
        from .grid import DEFAULT_RESOLUTIONS, PUBLISHED_ALPHAS, sweep
        from .render import sweep_document
        resolutions = ([resolution_from_rho(r) for r in args.rho] if args.rho else args.resolution
                       or DEFAULT_RESOLUTIONS)
        points = sweep(args.model, args.alpha or PUBLISHED_ALPHAS.get(model_name(args.model), (alpha_of(args),)),
                       resolutions, args.classes,
                       args.convention)
        emit(render(sweep_document(points, args.convention), args.format))
        return 0
    if args.command == "budget":
        from .grid import DEFAULT_RESOLUTIONS, all_points, budget, near
        from .render import budget_document
        if args.madds is None and args.params is None and args.near is None:
            raise UsageError("flopcalc budget: error: give --madds N and/or --params N, or --near N")
        models = args.models or list(MODELS)
        points = all_points(models, args.resolution or DEFAULT_RESOLUTIONS, convention=args.convention,
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
    if args.command == "published":
        from .published import check_all
        from .render import published_document
        emit(render(published_document(check_all(), args.discrepancies), args.format))
        return 0
    if args.command == "table":
        from .analyze import block_rows, top_rows
        from .conventions import analyze
        from .render import table_document
        a = analyze(args.model, alpha_of(args), resolution_of(args), args.classes, batch=args.batch,
                    convention=args.convention, full_conv=args.full_conv, small_input=args.small_input)
        mem = None
        if args.memory:
            from .analyze import analyze as plain
            from .memory import memory
            # the architecture analyzed, with every stored value (a convention may count fewer)
            mem = memory(plain(a.spec, resolution=resolution_of(args), batch=args.batch), args.dtype)
        if args.depth is not None:
            doc = table_document(a, block_rows(a, args.depth), shown=f"blocks to depth {args.depth}", memory=mem)
            doc.data["config"]["depth"] = args.depth
        elif args.top is not None:
            doc = table_document(a, top_rows(a, args.top), shown=f"the {args.top} layers with the most macs",
                                 memory=mem)
            doc.data["config"]["top"] = args.top
        else:
            doc = table_document(a, totals_only=args.totals, memory=mem)
        emit(render(doc, args.format))
        return 0
    if args.command == "spec":
        from dataclasses import replace
        from .specfile import write
        from .zoo import family_of
        family = family_of(args.model)
        text = write(replace(family, alpha=alpha_of(args)))
        if args.out is None:
            emit(text)
            return 0
        from .files import write_text
        write_text(args.out, text)
        sys.stderr.write(f"wrote {args.out}\n")
        return 0
    if args.command in ("train", "evaluate", "predict"):
        return _run_training(args)
    if args.command == "experiment":
        _torch(args, "torch,train")
        from . import experiments
        from .cpuload import LoadMeter
        meter = LoadMeter()
        summary = experiments.run(args.name, args.data, args.out, epochs=args.epochs, seeds=args.seeds,
                                  subset=args.subset, progress=args.progress, threads=args.threads)
        summary["load"] = _say_load(meter, args.command).to_json()
        emit(render(experiments.document(summary), args.format))
        return 0
    if args.command in ("machine", "bench", "export"):
        return _run_latency(args)
    if args.command == "report":
        from pathlib import Path
        from . import reports
        from .render import report_document
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise UsageError(f"flopcalc report: error: --out {args.out!r} is a file, not a folder")
        if args.record is not False:
            reports.record(out, args.record or reports.RECORD_STEPS, log=lambda m: print(m, file=sys.stderr),
                           threads=args.threads)
        emit(render(report_document(reports.write(out, plots=not args.no_plots), out, reports.missing(out)),
                    args.format))
        return 0
    if args.command == "conventions":
        from .render import conventions_document
        emit(render(conventions_document(), args.format))
        return 0
    if args.command == "reconcile":
        from .reconcile import reconcile
        from .render import reconcile_document
        r = reconcile(args.model, alpha_of(args), resolution_of(args), args.classes)
        live = _live(r, args) if args.live else None
        emit(render(reconcile_document(r, live), args.format))
        return 1 if live and any(v is not None and not _agrees(line, v) for line in r.lines
                                 for k, v in live.items() if k == line.convention.name) else 0
    if args.command == "verify":
        if args.model is None and not args.grid:
            raise UsageError("flopcalc verify: error: MODEL is required unless --grid is given "
                             f"(one of: {', '.join(MODELS)})")
        return _verify(args)
    raise UsageError(f"flopcalc: error: unknown command {args.command!r}")  # argparse prevents this


def _verify(args: argparse.Namespace) -> int:
    """``flopcalc verify``: exit 0 when everything agrees, 1 on any mismatch."""
    _torch(args)
    try:
        from .nn.report import grid_document, report_document
        from .nn.verify import (GRID_ALPHAS, GRID_RESOLUTIONS, check_fits, default_memory_limit, verify,
                                verify_grid)
    except ImportError as e:
        raise UsageError(f"flopcalc verify: error: needs torch, fvcore and numpy ({e}); install "
                         "them with: pip install torch==2.13.0 'flopcalc[torch]'") from None
    classes = DEFAULT_CLASSES if args.classes is None else args.classes
    given = resolution_of(args) if (args.resolution or args.rho) else None
    if args.grid:
        from .analyze import analyze
        models = [args.model] if args.model else list(MODELS)
        alphas = (args.alpha,) if args.alpha is not None else GRID_ALPHAS
        resolutions = (given,) if given else GRID_RESOLUTIONS
        for m in models:  # refuse before any work if the largest config would not fit
            check_fits(analyze(m, max(alphas), max(resolutions, key=lambda r: r if isinstance(r, int) else max(r)),
                               classes), args.max_memory or default_memory_limit())
        with _progress(args, "verify --grid") as progress:
            reports = verify_grid(models, alphas, resolutions, classes, args.max_memory, progress)
        emit(render(grid_document(reports), args.format))
        return 0 if all(r.ok for r in reports) else 1
    report = verify(args.model, alpha_of(args), given or DEFAULT_RESOLUTION, classes, args.max_memory,
                    args.reference)
    emit(render(report_document(report), args.format))
    return 0 if report.ok else 1


def _run_training(args: argparse.Namespace) -> int:
    asked = args.threads
    _torch(args, "torch,train")
    from .training import infer, loop, report
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
        from .nn.optimize import keep_freed_memory
        keep_freed_memory()
    if args.command == "evaluate":
        with _progress(args, "evaluate") as progress:
            result = infer.evaluate(args.checkpoint, args.data, args.batch_size, args.workers, eager=args.eager,
                                    progress=progress)
        emit(render(report.evaluate_document(result), args.format))
        return 0
    emit(render(report.predict_document(infer.predict(args.checkpoint, args.images, args.top, eager=args.eager)),
                args.format))
    return 0


def _run_latency(args: argparse.Namespace) -> int:
    from .latency import LatencyError, load_machine, save_machine
    from .render import bench_document, grid_document, machine_document
    if args.command == "machine" and args.show:
        machine = load_machine(args.profile)
        emit(render(machine_document(machine, args.profile or str(_cache())), args.format))
        return 0
    args.threads = _torch(args, "torch,onnx" if args.command == "export" else "torch")
    if not getattr(args, "default_allocator", False):
        from .nn.optimize import keep_freed_memory
        keep_freed_memory()
    if args.command == "export":
        return _export(args)
    from .cpuload import LoadMeter
    if args.command == "machine":
        from .nn import machine as measure
        meter = LoadMeter()
        with _progress(args) as progress:
            m = measure.quick(args.threads) if args.quick else measure.calibrate(args.threads, progress=progress)
        load = _say_load(meter, args.command)
        path = save_machine(m, args.profile)
        emit(render(machine_document(m, str(path), load), args.format))
        return 0
    from .nn import bench as b
    if args.grid and (args.alpha is not None or args.resolution is not None or args.rho is not None):
        raise UsageError("flopcalc bench: error: --grid times the grid's own alphas and resolutions; leave out "
                         "--alpha, --resolution and --rho (or leave out --grid to time one config)")
    if not args.grid and args.model is None:
        raise UsageError("flopcalc bench: error: MODEL is required unless --grid is given "
                         f"(one of: {', '.join(MODELS)})")
    batches = args.batch or ([1, 32] if args.grid else [1])
    if not args.grid and len(batches) > 1:
        raise UsageError("flopcalc bench: error: one --batch without --grid")
    try:
        machine = load_machine(args.profile)
    except LatencyError:
        if args.grid and args.predict:
            raise
        from .nn.machine import quick
        machine = quick()
        sys.stderr.write("flopcalc bench: no machine profile; measured peak and bandwidth now (roofline only). "
                         "Run 'flopcalc machine' once for predicted times.\n")
    meter = LoadMeter()
    if args.grid:
        with _progress(args, "bench --grid") as progress:
            results = b.grid(machine, batches, progress, models=[args.model] if args.model else None)
        load = _say_load(meter, args.command)
        emit(render(grid_document(results, machine, args.predict, load), args.format))
        return 0
    res = resolution_of(args)
    res = (res, res) if isinstance(res, int) else res
    common = dict(num_classes=args.classes, machine=machine, compile=args.compile)
    if args.compare:
        plans = [dict(eager=True), dict(per_layer=args.per_layer), dict(backend="onnxruntime")]
    else:
        plans = [dict(backend=args.backend, eager=args.eager, per_layer=args.per_layer)]
    runs = []
    with _progress(args, "bench", len(plans)) as progress:
        for plan in plans:
            runs.append(b.bench(args.model, alpha_of(args), res, batches[0], **plan, **common))
            progress.advance()
    load = _say_load(meter, args.command)
    emit(render(bench_document(runs, machine, args.top, load), args.format))
    return 0


def _say_load(meter, command: str):
    """Other processes' load around a timing; one line on stderr when the machine was busy."""
    load = meter.stop()
    warning = load.warning(command)
    if warning:
        sys.stderr.write(warning + "\n")
    return load


def _cache():
    from .latency import cache_path
    return cache_path()


def _export(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path
    from .conventions import analyze
    from .files import check_writable, file_target
    from .nn.onnx_export import export, graph_macs
    from .render import export_document
    target = Path(args.onnx)
    check_writable(target)
    text = args.model
    if text in MODELS or text.endswith(".toml"):
        model = _model(text)
        a = analyze(model, alpha_of(argparse.Namespace(alpha=args.alpha, model=model)), resolution_of(args),
                    args.classes, batch=args.batch or 1)
        from .nn import build
        net = build(model, a.config["alpha"], a.config["num_classes"])
        source = model_name(model)
    else:
        from .training.infer import load_for_inference
        loaded = load_for_inference(text)
        c = loaded.config
        from .training.loop import family_from_config
        model = family_from_config(c)
        res = resolution_of(args) if (args.resolution or args.rho) else c["resolution"]
        a = analyze(model, c["alpha"], res, c["num_classes"], batch=args.batch or 1,
                    small_input=c.get("small_input", False))
        net, source = loaded.net, text
    h, w = a.config["resolution"]
    with file_target(target) as tmp:
        export(net, (h, w), tmp, dynamic_batch=args.batch is None, batch=args.batch or 1)
        graph = graph_macs(tmp, args.batch or 1)
        size = os.path.getsize(tmp)
    doc = export_document(source, a, target, size, graph, a.total.macs, args.batch)
    emit(render(doc, args.format))
    return 0 if doc.data["equal"] else 1


def _live(r, args: argparse.Namespace) -> dict:
    """Run every installed counter on the reconciled config: convention -> (params, reported)."""
    _torch(args, "torch,peers")
    from .nn import peers
    here = peers.available()
    if not any(here[c.convention.live] for c in r.lines if c.convention.live and c.convention.live != "flop_counter"):
        raise UsageError(f"flopcalc reconcile: error: --live found none of the peer counters installed; "
                         f"{peers.EXTRA}")
    base = r.base
    out = {}
    lines = [line for line in r.lines if line.convention.live]
    with _progress(args, "reconcile --live", len(lines)) as progress:
        for line in lines:
            tool = line.convention.live
            progress.set(progress.done, note=tool)
            out[line.convention.name] = None if not here[tool] else peers.measure(
                tool, base.model, base.config["alpha"], base.config["resolution"], line.num_classes,
                line.convention.rounding)
            progress.advance()
    return out


def _agrees(line, measured) -> bool:
    return all(m is None or m == e for m, e in ((measured[0], line.params), (measured[1], line.reported)))


class OutputError(Exception):
    """stdout cannot be written (a full disk, a closed file); not the user's input."""


def emit(text: str) -> None:
    """Write a command's output; a failure to write is an :class:`OutputError`."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as e:
        raise OutputError(f"flopcalc: error: cannot write output: {e.strerror or e}") from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of what could not be
    written does not print a second error."""
    import os
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return _run(args)
    except (UsageError, UserError, OutputError) as e:
        message = str(e) if isinstance(e, (UsageError, OutputError)) else f"flopcalc: error: {one_line(e)}"
        if isinstance(e, OutputError):
            _silence_stdout()
        sys.stderr.write(message + "\n")
        return 2
    except MemoryError:
        sys.stderr.write("flopcalc: error: out of memory; choose a smaller alpha or resolution\n")
        return 2
    except BrokenPipeError:
        # `flopcalc table ... | head`: the reader left; stop quietly.
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("flopcalc: interrupted\n")
        return 130

"""The command line's shared parts: argparse types that refuse a bad value in one line naming it
and what is accepted, and the option groups several commands share (one definition each)."""

from __future__ import annotations

import argparse
import math
from typing import Callable, NoReturn

from ..errors import UsageError
from ..output import BUILTIN_FORMATS, FormatError, check_format
from ..scaling import resolution_from_rho
from ..spec import SpecError
from ..family import Family
from ..zoo import DEFAULT_CLASSES, DEFAULT_RESOLUTION, MAX_DEPTH, MODELS


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse prints usage + message; we want one line
        raise UsageError(f"{self.prog}: error: {message}")


def number(what: str, accept: Callable[[float], bool], accepted: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and accept(value)):
            raise argparse.ArgumentTypeError(f"{what} must be {accepted}, got {text!r}")
        return value
    return parse


def integer(what: str, minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be an integer >= {minimum}, got {text!r}")
        return value
    return parse


def resolution_type(text: str) -> int | tuple[int, int]:
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


def list_of(parse: Callable[[str], object], what: str) -> Callable[[str], list]:
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


def model_type(text: str):
    """A zoo model's name, or a spec file's path (read here: a bad file is one line)."""
    if text in MODELS:
        return text
    from ..specfile import looks_like_file, read
    from pathlib import Path
    if looks_like_file(text) or Path(text).exists():
        try:
            return read(text)
        except SpecError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    raise argparse.ArgumentTypeError(f"unknown model {text!r}; available: {', '.join(MODELS)}, "
                                     "or a spec file's path (.toml)")



def alpha_of(args: argparse.Namespace) -> float:
    """--alpha, else the model's own (a spec file's alpha, else 1)."""
    from ..zoo import alpha_or_default
    return alpha_or_default(args.model, getattr(args, "alpha", None))


def format_type(text: str) -> str:
    try:
        return check_format(text)
    except FormatError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


alpha_type = number("alpha", lambda v: v > 0, "a finite number > 0")
rho_type = number("rho", lambda v: resolution_from_rho(v) >= 1,
               f"a finite number with round({DEFAULT_RESOLUTION} * rho) >= 1")

FORMAT_HELP = (f"output format: {', '.join(BUILTIN_FORMATS)} (built in), or any of tabulate's table formats "
               "(grid, rst, latex_booktabs, html, tsv, mediawiki, ...; needs tabulate); default plain")


def add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", type=format_type, default="plain", metavar="FORMAT", help=FORMAT_HELP)


MODEL_HELP = f"one of: {', '.join(MODELS)}; or a spec file's path (.toml; flopcalc spec writes one)"


def add_model(p: argparse.ArgumentParser, optional: bool = False,
               grid_help: str = " (with --grid: every zoo model when left out)", sources: bool = False,
               checkpoints: bool = False) -> None:
    """MODEL: a zoo name or a spec file; with ``sources``, also any PyTorch module flopcalc records
    (torchvision:NAME, timm:NAME, package.module:callable, file.py:callable), with --input,
    --model-arg and --strict."""
    kind = model_source_or_checkpoint_type if checkpoints else model_or_source_type if sources else model_type
    p.add_argument("model", metavar="MODEL", type=kind, nargs="?" if optional else None,
                   help=MODEL_HELP + (grid_help if optional else "") + (SOURCE_HELP if sources else "")
                   + (CHECKPOINT_HELP if checkpoints else ""))
    add_depth(p)
    if sources:
        p.add_argument("--input", type=argument("input_spec"), action="append", default=None, metavar="SHAPE",
                       help="a recorded module's input shape, batch first (default: the input_size the module "
                       "declares, as timm's do, else 1x3x224x224), a dtype after a colon (1x128:int64); repeat "
                       "it for a model of several inputs")
        p.add_argument("--model-arg", type=argument("model_arg"), action="append", default=[], metavar="KEY=VALUE",
                       help="a keyword argument for a recorded module's builder (repeatable): num_classes=10")
        p.add_argument("--strict", action="store_true",
                       help="exit 1 when a recorded module ran an operation flopcalc has no formula for (it is "
                            "always listed, never counted as zero silently)")


SOURCE_HELP = ("; or any PyTorch module, recorded on fake tensors: torchvision:NAME, timm:NAME, "
               "package.module:callable or file.py:callable; or an ONNX file (.onnx)")


def argument(parser: str) -> Callable[[str], object]:
    """A parser of :mod:`flopcalc.sources` as an argparse type (imported when an argument needs it,
    not at start-up): its one-line error becomes argparse's."""
    def parse_argument(text: str):
        from .. import sources
        try:
            return getattr(sources, parser)(text)
        except sources.SourceError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse_argument


def model_or_source_type(text: str):
    """A zoo name, a spec file, or a module source (parsed here, built only when the command runs)."""
    if text in MODELS or text.endswith(".toml") or (":" not in text and not text.lower().endswith(".onnx")):
        return model_type(text)
    return argument("parse_source")(text) or model_type(text)


CHECKPOINT_HELP = "; or a checkpoint (.pt/.pth) that flopcalc train or torchvision wrote"


def is_checkpoint(text) -> bool:
    """A command-line model named by a checkpoint's file name (.pt or .pth)."""
    return isinstance(text, str) and text.lower().endswith((".pt", ".pth"))


def model_source_or_checkpoint_type(text: str):
    """A zoo name, a spec file, a module source, or a checkpoint (.pt/.pth) that flopcalc train or torchvision
    wrote (read when the command runs)."""
    if is_checkpoint(text):
        import os
        if not os.path.isfile(text):
            raise argparse.ArgumentTypeError(f"checkpoint {text!r} does not exist")
        return text
    return model_or_source_type(text)


def add_config_args(p: argparse.ArgumentParser, *, grid: bool = False, conventions: bool = True) -> None:
    p.add_argument("--alpha", type=alpha_type, default=None, metavar="A",
                   help="width multiplier alpha, any finite A > 0 (default the model's: 1.0, EfficientNet's per "
                        "variant, a spec file's alpha" + (
                       "; with --grid, every grid alpha)" if grid else ")"))
    res = p.add_mutually_exclusive_group()
    res.add_argument("--resolution", type=resolution_type, default=None, metavar="R",
                     help=f"input size in pixels: R for R x R, or HEIGHTxWIDTH such as 320x240 "
                          f"(default the model's: {DEFAULT_RESOLUTION}, EfficientNet's per variant)")
    res.add_argument("--rho", type=rho_type, default=None, metavar="P",
                     help="resolution multiplier: input round(R * P) square, R the model's resolution "
                          f"({DEFAULT_RESOLUTION}; EfficientNet's per variant)")
    p.add_argument("--classes", type=integer("classes", 1), default=None, metavar="N",
                   help=f"number of classes, N >= 1 (default {DEFAULT_CLASSES}"
                        + ("; under --convention tfslim 1001)" if conventions else ")"))


def add_runtime_args(p: argparse.ArgumentParser, progress: bool = True) -> None:
    """--threads for every command that runs torch; --progress / --quiet for the slow ones."""
    p.add_argument("--threads", type=integer("threads", 1), default=None, metavar="N",
                   help="torch (and onnxruntime) threads (default: the CPUs other processes leave idle when it "
                        "starts, at least 1, so a second torch job does not collapse it; OMP_NUM_THREADS if set)")
    if progress:
        shown = p.add_mutually_exclusive_group()
        shown.add_argument("--progress", dest="progress", action="store_true", default=None,
                           help="show progress on stderr even when it is not a terminal (default: on a terminal)")
        shown.add_argument("--quiet", dest="progress", action="store_false", help="no progress")


# the engines of bench, machine, budget and experiment backends: nn.engines.ENGINES, here without torch
ENGINE_CHOICES = ("torch", "onnxruntime", "openvino", "executorch", "ncnn")


def add_machine_args(p: argparse.ArgumentParser) -> None:
    add_runtime_args(p)
    p.add_argument("--profile", default=None, metavar="FILE",
                   help="the machine profile file (default: $FLOPCALC_MACHINE, else "
                        "$XDG_CACHE_HOME/flopcalc/machine.json)")
    add_format(p)






def convention_type(text: str) -> str:
    from ..conventions import CONVENTIONS
    if text not in CONVENTIONS:
        raise argparse.ArgumentTypeError(f"unknown convention {text!r}; known: {', '.join(CONVENTIONS)}")
    return text


def add_convention(p: argparse.ArgumentParser) -> None:
    from ..conventions import CONVENTIONS, DEFAULT
    p.add_argument("--convention", type=convention_type, default=DEFAULT, metavar="NAME",
                   help=f"count as NAME counts: {', '.join(CONVENTIONS)} (default {DEFAULT}; flopcalc conventions "
                        "lists what each counts)")


def resolution_of(args: argparse.Namespace) -> int | tuple[int, int]:
    """--resolution, or --rho times the model's own, else the model's own (EfficientNet-B3's 300; 224)."""
    from ..zoo import resolution_or_default
    model = args.model if isinstance(getattr(args, "model", None), (str, Family)) else None
    if args.rho is not None:
        return resolution_from_rho(args.rho, resolution_or_default(model, None))
    return resolution_or_default(model, args.resolution)


def depth_type(text: str) -> float:
    from ..zoo import check_depth
    try:
        return check_depth(float(text) if text.strip().lower() not in ("nan", "inf", "-inf") else text)
    except (ValueError, SpecError):
        raise argparse.ArgumentTypeError(f"depth multiplier must be a finite number > 0 and at most "
                                         f"{MAX_DEPTH:g}, got {text!r}") from None


def add_depth(p: argparse.ArgumentParser) -> None:
    p.add_argument("--depth-mult", type=depth_type, default=None, metavar="D",
                   help="depth multiplier: each stage repeats ceil(n * D) blocks (EfficientNet's compound scaling; "
                        "default the model's own: 1.0, EfficientNet-B3's 1.4)")


def apply_depth(args: argparse.Namespace) -> None:
    """--depth-mult makes MODEL the family at that depth (a zoo model or a spec file)."""
    depth = getattr(args, "depth_mult", None)
    if depth is None:
        return
    if not isinstance(getattr(args, "model", None), (str, Family)):
        raise UsageError(f"flopcalc {args.command}: error: --depth-mult {depth:g} needs a zoo model or a spec file "
                         "as MODEL (a recorded module's code decides its depth)")
    from ..zoo import with_depth
    args.model = with_depth(args.model, depth)



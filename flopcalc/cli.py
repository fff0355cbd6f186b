"""Command line: ``flopcalc table | separable | models | verify``.

Start-up is kept light (argparse and the pure-Python core): torch, fvcore and numpy are
imported only by ``verify``. Bad input ends in one line on stderr that names the value
and what is accepted, with exit status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Callable, NoReturn, Sequence

from .scaling import resolution_from_rho
from .spec import SpecError
from .zoo import DEFAULT_CLASSES, DEFAULT_RESOLUTION, MODELS

FORMATS = ("plain", "github", "csv", "json")


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


_alpha = _number("alpha", lambda v: v > 0, "a finite number > 0")
_rho = _number("rho", lambda v: resolution_from_rho(v) >= 1,
               f"a finite number with round({DEFAULT_RESOLUTION} * rho) >= 1")


def _add_config_args(p: argparse.ArgumentParser, *, alpha_default: float | None = 1.0) -> None:
    p.add_argument("--alpha", type=_alpha, default=alpha_default,
                   help="width multiplier alpha > 0 (default 1.0" + (
                       "; with --grid, every grid alpha)" if alpha_default is None else ")"))
    res = p.add_mutually_exclusive_group()
    res.add_argument("--resolution", type=_integer("resolution", 1), default=None,
                     help=f"input height and width in pixels (default {DEFAULT_RESOLUTION})")
    res.add_argument("--rho", type=_rho, default=None,
                     help=f"resolution multiplier: input {DEFAULT_RESOLUTION} * rho, rounded")
    p.add_argument("--classes", type=_integer("classes", 1), default=DEFAULT_CLASSES,
                       help=f"number of classes (default {DEFAULT_CLASSES})")


def resolution_of(args: argparse.Namespace) -> int:
    if args.rho is not None:
        return resolution_from_rho(args.rho)
    return DEFAULT_RESOLUTION if args.resolution is None else args.resolution


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="flopcalc", description=(
        "Exact output sizes, parameters and multiply-adds (MAdds) of MobileNet V1 and V2."))
    parser.add_argument("--version", action="version", version="%(prog)s 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("table", help="per-layer shapes, params and MAdds of a model")
    p.add_argument("model", metavar="MODEL", choices=tuple(MODELS),
                   help=f"one of: {', '.join(MODELS)}")
    _add_config_args(p)
    p.add_argument("--format", choices=FORMATS, default="plain")

    p = sub.add_parser("separable", help="standard vs depthwise-separable cost of one conv layer")
    p.add_argument("--kernel", type=_integer("kernel", 1), required=True, help="D_K")
    p.add_argument("--in", dest="in_c", type=_integer("in", 1), required=True, help="M, input channels")
    p.add_argument("--out", dest="out_c", type=_integer("out", 1), required=True, help="N, output channels")
    p.add_argument("--size", type=_integer("size", 1), required=True, help="D_F, input height and width")
    p.add_argument("--stride", type=_integer("stride", 1), default=1)
    p.add_argument("--format", choices=FORMATS, default="plain")

    sub.add_parser("models", help="the available models and their options")

    p = sub.add_parser("verify", help="build the PyTorch model and check every figure against fvcore")
    p.add_argument("model", metavar="MODEL", nargs="?", choices=tuple(MODELS),
                   help=f"one of: {', '.join(MODELS)} (with --grid: both when left out)")
    _add_config_args(p, alpha_default=None)
    p.add_argument("--grid", action="store_true", help=(
        "check every model x alpha {0.35, 0.5, 0.75, 1.0, 1.4} x resolution {96, ..., 224}"))
    p.add_argument("--reference", action="store_true", help=(
        "also run the NumPy reference kernels: outputs vs torch, executed vs formula MAdds, "
        "and the MAdds that multiply zero padding"))
    p.add_argument("--max-memory", type=_integer("max-memory", 1), default=None, metavar="BYTES",
                   help="refuse a model whose estimated size exceeds this (default: half of RAM)")
    p.add_argument("--format", choices=FORMATS, default="plain")
    return parser


def _models_text() -> str:
    lines = ["models:"]
    for m in MODELS.values():
        lines.append(f"  {m.name:<14} {m.title} ({m.source})")
    lines += [
        "",
        "options (table, verify):",
        "  --alpha A        width multiplier, any finite A > 0 (default 1.0); channels",
        "                   make_divisible(c * A, 8) as torchvision; V2's last conv 1280 * max(1, A)",
        f"  --resolution R   input R x R, any integer R >= 1 (default {DEFAULT_RESOLUTION})",
        f"  --rho P          input round({DEFAULT_RESOLUTION} * P)",
        f"  --classes N      classifier outputs, N >= 1 (default {DEFAULT_CLASSES})",
    ]
    return "\n".join(lines) + "\n"


def _run(args: argparse.Namespace) -> int:
    if args.command == "models":
        sys.stdout.write(_models_text())
        return 0
    if args.command == "separable":
        from .analyze import separable
        from .render import render_separable
        try:
            s = separable(args.kernel, args.in_c, args.out_c, args.size, args.stride)
        except SpecError as e:
            raise UsageError(f"flopcalc separable: error: --size {args.size} is too small for "
                             f"this kernel and stride ({e})") from None
        sys.stdout.write(render_separable(s, args.format))
        return 0
    if args.command == "table":
        from .analyze import analyze
        from .render import render_table
        a = analyze(args.model, args.alpha, resolution_of(args), args.classes)
        sys.stdout.write(render_table(a, args.format))
        return 0
    if args.command == "verify":
        if args.model is None and not args.grid:
            raise UsageError("flopcalc verify: error: MODEL is required unless --grid is given "
                             f"(one of: {', '.join(MODELS)})")
        try:
            from .nn.report import run_cli
        except ImportError as e:
            raise UsageError(f"flopcalc verify: error: needs torch, fvcore and numpy ({e}); install "
                             "them with: pip install torch==2.13.0 'flopcalc[torch]'") from None
        return run_cli(args, resolution_of(args) if (args.resolution or args.rho) else None)
    raise UsageError(f"flopcalc: error: unknown command {args.command!r}")  # argparse prevents this


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return _run(args)
    except (UsageError, SpecError) as e:
        message = str(e) if isinstance(e, UsageError) else f"flopcalc: error: {e}"
        sys.stderr.write(message + "\n")
        return 2
    except MemoryError:
        sys.stderr.write("flopcalc: error: out of memory; choose a smaller alpha or resolution\n")
        return 2
    except BrokenPipeError:
        # `flopcalc table ... | head`: the reader left. Point stdout at /dev/null so the
        # interpreter's final flush does not complain, and stop quietly.
        import os
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("flopcalc: interrupted\n")
        return 130

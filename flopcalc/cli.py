"""Command line: ``flopcalc COMMAND`` (``flopcalc --help`` lists them).

Builds the parser from :data:`flopcalc.commands.COMMANDS`, runs the chosen command and maps every
error to an :class:`~flopcalc.errors.ExitStatus`: 0 done; 1 the command ran and its answer is
"no" (``verify`` found a mismatch); 2 it could not do its job: bad input, a missing dependency,
output that cannot be written, always one line on stderr naming the value and what is accepted,
never a traceback. Start-up stays light: the command modules import the pure-Python core only;
torch, fvcore and numpy are imported inside the runs that need them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .commands import COMMANDS, family
from .commands.args import Parser, apply_depth
from . import __version__
from .errors import ExitStatus, OutputError, UsageError, UserError, one_line


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="flopcalc", description=(
        "Exact output sizes, parameters and multiply-adds (macs) of MobileNet V1, V2, V3 Large and Small, and of "
        "any network of the family written as a spec file; the PyTorch models built, verified, trained and timed."))
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        family(command).PARSERS[command](sub)
    return parser


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of what could not be
    written does not print a second error."""
    import os
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    """Run ``flopcalc ARGV``; its exit status. ``parser``: one :func:`build_parser` made before, to parse
    with again (the browser page runs many command lines in one process)."""
    try:
        args = (parser or build_parser()).parse_args(argv)
        apply_depth(args)
        return family(args.command).RUNS[args.command](args)
    except (UsageError, UserError, OutputError) as e:
        message = str(e) if isinstance(e, (UsageError, OutputError)) else f"flopcalc: error: {one_line(e)}"
        if isinstance(e, OutputError):
            _silence_stdout()
        sys.stderr.write(message + "\n")
        return ExitStatus.ERROR
    except MemoryError:
        sys.stderr.write("flopcalc: error: out of memory; choose a smaller alpha or resolution\n")
        return ExitStatus.ERROR
    except BrokenPipeError:
        # `flopcalc table ... | head`: the reader left; stop quietly.
        _silence_stdout()
        return ExitStatus.OK
    except KeyboardInterrupt:
        sys.stderr.write("flopcalc: interrupted\n")
        return ExitStatus.INTERRUPTED

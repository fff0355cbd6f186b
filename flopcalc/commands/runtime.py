"""What a running command does beside its work: the one door to torch (import it or say in one line
how to install it; set its threads), the progress line, and the load of other processes."""

from __future__ import annotations

import argparse
import sys

from ..errors import UsageError


def torch_door(args: argparse.Namespace, extras: str = "torch") -> int:
    """The one door to torch: import it (or say in one line how to install it) and set its
    threads; the thread count taken."""
    from .. import cpuload
    cpuload.mark()  # other processes' load is measured over torch's import, which follows
    try:
        from ..nn.runtime import set_threads
    except ImportError as e:
        raise UsageError(f"flopcalc {args.command}: error: needs torch ({e}); install it with: "
                         f"pip install torch==2.13.0 'flopcalc[{extras}]'") from None
    return set_threads(getattr(args, "threads", None))


def progress_of(args: argparse.Namespace, what: str | None = None, total: int = 0):
    from ..progress import Progress
    return Progress(what or args.command, total, enabled=getattr(args, "progress", None))


def say_load(meter, command: str):
    """Other processes' load around a timing; one line on stderr when the machine was busy."""
    load = meter.stop()
    warning = load.warning(command)
    if warning:
        sys.stderr.write(warning + "\n")
    return load

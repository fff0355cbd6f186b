"""What a running command does beside its work: the one door to torch (import it or say in one line
how to install it; set its threads), the progress line, and the load of other processes."""

from __future__ import annotations

import argparse
import sys

from ..errors import UsageError, install_hint


def torch_door(args: argparse.Namespace, extras: str = "torch", needs: tuple[str, ...] = ()) -> int:
    """The one door to torch and the extras: import torch (and each module of ``needs``) or say in
    one line how to install them; set torch's threads. The thread count taken."""
    import importlib
    from .. import cpuload
    cpuload.mark()  # other processes' load is measured over torch's import, which follows
    try:
        from ..nn.runtime import set_threads
        for module in needs:
            importlib.import_module(module)
    except ImportError as e:
        what = ", ".join(("torch",) + needs)
        raise UsageError(f"flopcalc {args.command}: error: needs {what} ({e}); install with: "
                         f"{install_hint(extras)}") from None
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

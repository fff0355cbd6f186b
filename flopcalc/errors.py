"""The whole error vocabulary. :class:`UserError`: something the user gave cannot be used (a bad
argument, spec file, data folder or checkpoint); :class:`UsageError`: a command line that cannot
run; :class:`OutputError`: standard output cannot be written. The command line prints each as one
line and exits with :class:`ExitStatus.ERROR`; never a traceback."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """What ``flopcalc`` exits with."""

    OK = 0            # done
    NO = 1            # the command ran and its answer is "no" (verify found a mismatch, a live count differs)
    ERROR = 2         # it could not do its job: bad input, a missing dependency, output that cannot be written
    INTERRUPTED = 130


class UserError(ValueError):
    """Something the user gave cannot be used; the message is one line naming it."""


def one_line(e: BaseException) -> str:
    """The message of ``e`` as one line. An error re-raised from a DataLoader worker carries the
    worker's traceback in its message; its last line holds the original message."""
    text = str(e).strip()
    if "\n" not in text:
        return text
    last = text.splitlines()[-1].strip()
    name = type(e).__name__
    head, sep, rest = last.partition(": ")
    return rest if sep and head.rsplit(".", 1)[-1] == name else last


TORCH_PIN = "torch==2.13.0"  # the CPU build this project's machines and CI install


def install_hint(extras: str) -> str:
    """The one install line for a missing optional dependency: ``extras`` is flopcalc's extra (or
    several, comma separated); torch's pinned CPU build goes first when the torch extra is named."""
    torch = f"{TORCH_PIN} " if "torch" in extras.split(",") else ""
    return f"pip install {torch}'flopcalc[{extras}]'"


class UsageError(Exception):
    """A command line that cannot run; the message is the one line the user sees."""


class OutputError(Exception):
    """stdout cannot be written (a full disk, a closed file); not the user's input."""

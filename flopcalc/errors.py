"""The one base class of every error that is the user's to fix (a bad argument, spec file,
data folder or checkpoint): the command line prints its message as one line and exits 2."""

from __future__ import annotations


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

"""The one progress display of the slow commands (verify --grid, reconcile --live, train,
evaluate, experiment, machine, bench, report --record): a line on stderr, so the output on
stdout stays clean.

On a terminal the line is redrawn in place and cleared when the work is done. Asked for with
``--progress`` where stderr is not a terminal (a log file, CI), it prints a plain line at most
once a second, and the last one. Standard library only: no progress-bar package needed.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``done`` of ``total`` steps of ``what``, with elapsed time and an optional note.

    Also a callback ``progress(done, total)``, the protocol of the measuring loops."""

    def __init__(self, what: str, total: int = 0, enabled: bool | None = None, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.tty = _isatty(self.stream)
        self.enabled = self.tty if enabled is None else enabled
        self.what, self.total, self.done, self.note = what, total, 0, ""
        self.t0 = time.monotonic()
        self._last = -1.0
        self._width = 0

    def __call__(self, done: int, total: int | None = None) -> None:
        self.set(done, total)

    def set(self, done: int, total: int | None = None, note: str | None = None) -> None:
        if total is not None:
            self.total = total
        if note is not None:
            self.note = note
        self.done = done
        self._draw(final=bool(self.total) and done >= self.total)

    def advance(self, steps: int = 1, note: str | None = None) -> None:
        self.set(self.done + steps, note=note)

    def line(self) -> str:
        count = f"{self.done}/{self.total}" if self.total else str(self.done)
        pct = f" {100 * self.done / self.total:3.0f}%" if self.total else ""
        note = f"  {self.note}" if self.note else ""
        return f"{self.what}  {count}{pct}  {time.monotonic() - self.t0:.0f} s{note}"

    def _draw(self, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            text = self.line()
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        elif final or now - self._last >= 1.0:
            self.stream.write(self.line() + "\n")
        else:
            return
        self._last = now
        self.stream.flush()

    def close(self) -> None:
        """Clear the line on a terminal; elsewhere print the last state if it was not printed."""
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r" + " " * self._width + "\r")
        elif self.total and self.done < self.total or self._last < 0:
            self.stream.write(self.line() + "\n")
        self.stream.flush()
        self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False

"""Shared timing helpers: medians, so one burst of a neighbour's load moves one sample."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flopcalc.timing import median_seconds as _median_seconds  # noqa: E402


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    """The median of exactly ``runs`` timed calls, no warm-up: flopcalc's own timing loop."""
    return _median_seconds(fn, runs, 0.0, warmup=0, max_reps=runs)


def wall_seconds(cmd: list[str], runs: int) -> float:
    """Median wall time of a whole process, run from the repository root."""
    return median_seconds(lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT), runs)

"""Shared timing helpers: medians, so one burst of a neighbour's load moves one sample."""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def wall_seconds(cmd: list[str], runs: int) -> float:
    """Median wall time of a whole process, run from the repository root."""
    return median_seconds(lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT), runs)

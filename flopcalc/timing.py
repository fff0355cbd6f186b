"""The one timing loop: the median wall time of a call, after warm-up calls. Calibration
(``flopcalc machine``), ``bench``, the int8 models' throughput and ``benchmarks/`` all time with it.
A median, so one burst of a neighbour's load moves one sample, not the answer."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Timing:
    """A timed call: the median seconds, and the spread of its repeats (coefficient of variation:
    standard deviation over mean; 0 for a single repeat)."""

    median_s: float
    cv: float
    repeats: int

    @classmethod
    def of(cls, times: list[float]) -> Timing:
        mean = statistics.fmean(times)
        cv = statistics.stdev(times) / mean if len(times) > 1 and mean > 0 else 0.0
        return cls(statistics.median(times), cv, len(times))


def measure(fn: Callable[[], object], min_reps: int = 5, min_time: float = 0.03, warmup: int = 2,
            max_reps: int = 200) -> Timing:
    """Time ``fn()`` after ``warmup`` calls (the first calls build the kernels): at least ``min_reps``
    timed calls, more until ``min_time`` seconds have passed, at most ``max_reps``."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while (len(times) < min_reps or time.perf_counter() - start < min_time) and len(times) < max_reps:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return Timing.of(times)


def median_seconds(fn: Callable[[], object], min_reps: int = 5, min_time: float = 0.03, warmup: int = 2,
                   max_reps: int = 200) -> float:
    """The median of :func:`measure`."""
    return measure(fn, min_reps, min_time, warmup, max_reps).median_s

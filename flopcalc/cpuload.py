"""How busy the machine is with *other* work, and how many threads torch should take.

On a shared machine, torch's default (a thread per core, each spinning while it waits) collapses
when another job holds the cores: two OpenMP runtimes wait on each other at every parallel
region. Measured on 2 cores with a second torch job beside it (``benchmarks/bench_busy.py``):
``bench mobilenet_v2 --alpha 0.5 --resolution 160 --batch 8`` fell from about 300 to 7-77
images/s at torch's 2 threads, and held 150-200 at 1 thread; a passive OpenMP wait policy cost
a third of the quiet speed and did not save the busy case. So the torch commands take as many
threads as there are cores left idle by other processes (at least 1, at most torch's own
choice), measured when they start; ``--threads N`` (or ``OMP_NUM_THREADS``) decides instead.

Other processes' load is the CPU time all processes spent on this process's CPUs (Linux's
``/proc/stat``, steal time included) less this process's own (``os.times``), over a wall-clock
interval, in cores. Standard library only; where ``/proc/stat`` is missing, the load is unknown
(None) and the default is torch's own.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

# Others using more than this many cores make a timing "busy": a quiet machine shows 0.0-0.1.
BUSY_CORES = 0.25
SAMPLE_SECONDS = 0.25


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Sample:
    wall: float
    busy: float | None   # seconds of CPU time all processes spent on our CPUs (None: unknown)
    own: float           # seconds of CPU time this process spent (every thread)


def _busy_seconds() -> float | None:
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    try:
        allowed = {f"cpu{i}" for i in os.sched_getaffinity(0)}
    except (AttributeError, OSError):
        allowed = None
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for line in lines:
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or (allowed is not None and name not in allowed):
            continue
        # user nice system idle iowait irq softirq steal (guest time is inside user)
        v = [int(x) for x in fields[:8]] + [0] * (8 - len(fields[:8]))
        total += v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
    return total / hz


def sample() -> Sample:
    t = os.times()
    return Sample(time.monotonic(), _busy_seconds(), t.user + t.system)


def others(since: Sample, until: Sample | None = None) -> float | None:
    """Cores used by other processes between two samples (None when unknown or too short)."""
    until = until or sample()
    wall = until.wall - since.wall
    if since.busy is None or until.busy is None or wall < 0.1:
        return None
    used = (until.busy - since.busy) - (until.own - since.own)
    return max(0.0, min(float(cpus()), used / wall))


def measure_load(seconds: float = SAMPLE_SECONDS) -> float | None:
    """Cores used by other processes over the next ``seconds`` (this process sleeping)."""
    start = sample()
    time.sleep(seconds)
    return others(start)


_last: Sample | None = None


def mark() -> None:
    """Start the interval :func:`others_recently` measures, unless one is running: the torch door
    calls it just before importing torch, so the first measurement spans that import for free."""
    global _last
    if _last is None:
        _last = sample()


def others_recently() -> float | None:
    """Cores used by other processes lately: since the last call (or since :func:`mark`) when that
    was 0.1 to 30 seconds ago; else over a fresh short sample."""
    global _last
    now = sample()
    start, _last = _last, now
    if start is not None and 0.1 <= now.wall - start.wall <= 30:
        return others(start, now)
    value = measure_load()
    _last = sample()
    return value


def default_threads(others_cores: float | None, native: int) -> int:
    """The cores left idle by other processes, at least 1, at most ``native`` (torch's choice)."""
    if others_cores is None:
        return native
    return max(1, min(native, round(cpus() - others_cores)))


@dataclass(frozen=True)
class Load:
    """Other processes' load around a timing: before, during and after it, in cores."""

    cpus: int
    before: float | None
    during: float | None
    after: float | None

    @property
    def busy(self) -> bool | None:
        known = [v for v in (self.before, self.during, self.after) if v is not None]
        return None if not known else max(known) > BUSY_CORES

    def to_json(self) -> dict:
        return {"cpus": self.cpus, "before": _r(self.before), "during": _r(self.during), "after": _r(self.after),
                "busy": self.busy}

    def warning(self, command: str) -> str | None:
        """One line when the machine was busy, else None."""
        if not self.busy:
            return None
        worst = max(v for v in (self.before, self.during, self.after) if v is not None)
        return (f"flopcalc {command}: the machine was busy: other processes used up to {worst:.1f} of its "
                f"{self.cpus} CPUs around the measurement, so these times are slower than it can do; "
                "measure again on a quiet machine")


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


class LoadMeter:
    """``meter = LoadMeter(); ...timed work...; load = meter.stop()``: other processes' load
    before (a short sample), during, and after (another sample) the work."""

    def __init__(self, before_seconds: float = SAMPLE_SECONDS):
        self.before = measure_load(before_seconds)
        self.start = sample()

    def stop(self, after_seconds: float = SAMPLE_SECONDS) -> Load:
        during = others(self.start)
        return Load(cpus(), self.before, during, measure_load(after_seconds))

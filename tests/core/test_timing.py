"""The one timing loop (flopcalc.timing.median_seconds): how many calls it makes, and that it
returns the median of the timed ones (a fake clock, so the figures are exact)."""

from __future__ import annotations

from flopcalc import timing


def test_warmup_then_min_reps_when_min_time_has_passed():
    calls = []
    timing.median_seconds(lambda: calls.append(1), min_reps=4, min_time=0.0, warmup=3)
    assert len(calls) == 3 + 4


def test_max_reps_caps_a_long_min_time():
    calls = []
    timing.median_seconds(lambda: calls.append(1), min_reps=1, min_time=3600.0, warmup=0, max_reps=7)
    assert len(calls) == 7


def test_the_median_of_the_timed_calls(monkeypatch):
    """Calls taking 5, 1, 9, 3, 7 ticks (the warm-up call 100): the median is 5."""
    durations = iter([100, 5, 1, 9, 3, 7])
    clock = [0.0]

    def fake_counter():
        return clock[0]

    def fn():
        clock[0] += next(durations)

    monkeypatch.setattr(timing.time, "perf_counter", fake_counter)
    assert timing.median_seconds(fn, min_reps=5, min_time=0.0, warmup=1, max_reps=5) == 5


def test_measure_reports_the_spread_of_the_repeats(monkeypatch):
    """Calls of 2, 4, 4, 4, 6 ticks: median 4, mean 4, sample standard deviation sqrt(2) (computed by hand:
    squared deviations 4 + 0 + 0 + 0 + 4 over 4), so the coefficient of variation is sqrt(2) / 4."""
    durations = iter([2, 4, 4, 4, 6])
    clock = [0.0]
    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])

    def fn():
        clock[0] += next(durations)
    t = timing.measure(fn, min_reps=5, min_time=0.0, warmup=0, max_reps=5)
    assert (t.median_s, t.repeats) == (4, 5)
    assert abs(t.cv - 2 ** 0.5 / 4) < 1e-12
    assert timing.Timing.of([3.0]).cv == 0.0

"""Torch commands on a busy machine: each workload quiet and beside a second torch job, side by side.

The second job is what collapses torch on a shared machine: a loop of small matrix multiplies at
torch's default threads (its OpenMP threads spin while they wait, against ours). Each workload
runs with flopcalc's default threads (the cores other processes leave idle, measured at start)
and with ``--threads CPUS`` (torch's own default before flopcalc chose), quiet and busy, in
interleaved rounds; the figure is the median over rounds and the spread (min-max) is printed
beside it.

1. ``flopcalc verify --grid``                                 (wall time of the process)
2. ``flopcalc train mobilenet_v2 --alpha 0.5 --data digits --epochs 2``   (wall time)
3. ``flopcalc bench mobilenet_v2 --alpha 0.5 --resolution 160 --batch 8`` (its images/s)

Goal (issue 16): busy at most 2.5x quiet for each, at flopcalc's default.

Run: ``python benchmarks/bench_busy.py [--rounds N] [--only verify,train,bench]`` on an
otherwise quiet machine (it starts and stops the busy job itself; several minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from timing import ROOT

BUSY_JOB = ("import torch\n"
            "a = torch.randn(128, 128)\n"
            "while True:\n"
            "    a @ a\n")


def flopcalc(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flopcalc", *argv], cwd=ROOT, capture_output=True, text=True)


def verify_seconds(threads: list[str]) -> float:
    t0 = time.perf_counter()
    r = flopcalc(["verify", "--grid", "--quiet", *threads])
    assert r.returncode == 0, r.stderr
    return time.perf_counter() - t0


def train_seconds(threads: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        r = flopcalc(["train", "mobilenet_v2", "--alpha", "0.5", "--data", "digits", "--epochs", "2",
                      "--out", f"{tmp}/run", "--quiet", *threads])
        assert r.returncode == 0, r.stderr
        return time.perf_counter() - t0


def bench_seconds_per_image(threads: list[str]) -> float:
    r = flopcalc(["bench", "mobilenet_v2", "--alpha", "0.5", "--resolution", "160", "--batch", "8", "--quiet",
                  "--format", "json", *threads])
    assert r.returncode == 0, r.stderr
    return 1 / json.loads(r.stdout)["images_per_second"]


WORKLOADS = {"verify": ("verify --grid", verify_seconds, "s"),
             "train": ("train V2 0.5 digits, 2 epochs", train_seconds, "s"),
             "bench": ("bench V2 0.5 160 batch 8", bench_seconds_per_image, "ms/image")}


def start_busy() -> subprocess.Popen:
    job = subprocess.Popen([sys.executable, "-c", BUSY_JOB], env={k: v for k, v in os.environ.items()
                                                                  if k != "OMP_NUM_THREADS"})
    time.sleep(3)  # torch imported, spinning
    return job


def show(v: float, unit: str) -> float:
    return v * 1e3 if unit == "ms/image" else v


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--only", default=",".join(WORKLOADS))
    args = p.parse_args()
    cpus = len(os.sched_getaffinity(0))
    settings = {"flopcalc default": [], f"--threads {cpus}": ["--threads", str(cpus)]}
    names = args.only.split(",")
    times = {(w, s, m): [] for w in names for s in settings for m in ("quiet", "busy")}
    for _ in range(args.rounds):
        for mode in ("quiet", "busy"):
            job = start_busy() if mode == "busy" else None
            try:
                for w in names:
                    for s, extra in settings.items():
                        times[(w, s, mode)].append(WORKLOADS[w][1](extra))
            finally:
                if job is not None:
                    job.kill()
                    job.wait()
    print(f"{cpus} CPUs; busy job: a loop of 128x128 matmuls at torch's default threads; "
          f"medians of {args.rounds} rounds, [min-max]\n")
    print(f"{'workload':32} {'threads':18} {'quiet':>20} {'busy':>20} {'busy/quiet':>11}")
    for w in names:
        title, _, unit = WORKLOADS[w]
        for s in settings:
            q, b = times[(w, s, "quiet")], times[(w, s, "busy")]
            cells = [f"{show(statistics.median(v), unit):7.1f} [{show(min(v), unit):.1f}-{show(max(v), unit):.1f}]"
                     for v in (q, b)]
            ratio = statistics.median(b) / statistics.median(q)
            goal = ("  goal <= 2.5x: " + ("MET" if ratio <= 2.5 else "NOT MET")) if s == "flopcalc default" else ""
            print(f"{title:32} {s:18} {cells[0]:>20} {cells[1]:>20} {ratio:10.2f}x{goal}")
        print(f"{'':32} {'':18} {'(' + unit + ')':>20}")


if __name__ == "__main__":
    main()

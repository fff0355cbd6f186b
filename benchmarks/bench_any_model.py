"""Cost of counting a torchvision model, as whole processes measured side by side in one run.

Four processes per model, each building and counting the model the way its users would:

- ``bare``: ``python -c "import torch, torchvision"``, the import floor all the others share.
- ``frozen``: the same import, then ``gc.freeze()``, as flopcalc's command line does once torch is
  imported. Freezing what the import made out of the garbage collector also spares the
  interpreter's exit a full collection over it (about a second here), so a flopcalc process can end
  sooner than the bare import: flopcalc's time above the import is taken above this floor, the
  peers' above ``bare`` (whole-process ratios are printed too).
- ``flopcalc``: ``python -m flopcalc table torchvision:NAME --totals`` (the model is built
  on the meta device and recorded on fake tensors; no weights are allocated).
- ``fvcore``: ``FlopCountAnalysis`` on the model built with real, randomly initialised
  weights and a 1x3x224x224 zero input (a real traced forward).
- ``ptflops``: ``get_model_complexity_info(m, (3, 224, 224))`` on the same real model.

Models: resnet50, vit_b_16, convnext_base, efficientnet_b7, vit_h_14, all at 224x224.
Per process: wall time (``time.perf_counter`` around spawn and reap) and peak RSS (the
child's own ``ru_maxrss``, from ``os.wait4`` on its pid). Repeats are interleaved
(repeat, then model, then tool) so drift from a neighbour's load hits every tool alike.
Every figure is a median over the repeats with its spread (min-max) beside it; a derived
figure (time above import, ratios) is computed from the medians, and its spread is the
min-max of the same figure computed per repeat (paired within one repeat).

Targets: flopcalc's time above its import floor (``frozen``) at most 1.0x fvcore's and
ptflops's above theirs (``bare``) on every model and at most 0.5x on the models over 50M
parameters; flopcalc's peak RSS at most 100 MB above the bare import's. PASS/FAIL is printed;
the exit status is 0 either way.

This needs an environment with torchvision, fvcore and ptflops (not the test suite's), with
flopcalc installed in it (``pip install --no-deps -e .``); every child uses the same
interpreter as the benchmark. Run, for example:
``/tmp/tv/bin/python benchmarks/bench_any_model.py [--repeats N] [--models a,b,...]``.
Expect 10-20 minutes at the defaults on a small CPU machine: vit_h_14 under fvcore and
ptflops runs a real 167 GFLOP forward.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MODELS = ("resnet50", "vit_b_16", "convnext_base", "efficientnet_b7", "vit_h_14")
TOOLS = ("bare", "frozen", "flopcalc", "fvcore", "ptflops")
FLOOR = {"flopcalc": "frozen"}  # the import floor each process is measured above (default: bare)
PEERS = ("fvcore", "ptflops")
# Parameter counts of the torchvision builders (ImageNet heads), for the > 50M split;
# flopcalc's own printed count is shown beside them when it ran.
KNOWN_PARAMS = {
    "resnet50": 25_557_032,
    "vit_b_16": 86_567_656,
    "convnext_base": 88_591_464,
    "efficientnet_b7": 66_347_960,
    "vit_h_14": 632_045_800,
}
BIG = 50_000_000
RSS_LIMIT_MB = 100.0

FVCORE = """\
import torch, torchvision
from fvcore.nn import FlopCountAnalysis
m = torchvision.models.get_model({name!r}, weights=None).eval()
f = FlopCountAnalysis(m, torch.zeros(1, 3, 224, 224))
f.unsupported_ops_warnings(False)
f.uncalled_modules_warnings(False)
print(int(f.total()))
"""

PTFLOPS = """\
import torch, torchvision
from ptflops import get_model_complexity_info
m = torchvision.models.get_model({name!r}, weights=None).eval()
print(get_model_complexity_info(m, (3, 224, 224), as_strings=False, print_per_layer_stat=False))
"""


def command(tool: str, name: str) -> list[str]:
    py = sys.executable
    if tool == "bare":
        return [py, "-c", "import torch, torchvision"]
    if tool == "frozen":
        return [py, "-c", "import gc, torch, torchvision; gc.freeze()"]
    if tool == "flopcalc":
        return [py, "-m", "flopcalc", "table", f"torchvision:{name}", "--totals"]
    if tool == "fvcore":
        return [py, "-c", FVCORE.format(name=name)]
    return [py, "-c", PTFLOPS.format(name=name)]


def run_once(cmd: list[str], timeout: float) -> dict:
    """Spawn ``cmd`` from the repository root; its wall seconds, own peak RSS (MB) and output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=ROOT)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return {
            "wall": wall,
            "rss": usage.ru_maxrss / 1024.0,  # kB on Linux
            "rc": proc.returncode,
            "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"),
        }


def flopcalc_params(stdout: str) -> int | None:
    """The parameter count from flopcalc's ``total: ... macs (...), N params (...)`` line."""
    for line in stdout.splitlines():
        found = re.search(r"([\d,]+) params", line) if line.startswith("total:") else None
        if found:
            return int(found.group(1).replace(",", ""))
    return None


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def spread(xs: list[float], fmt: str) -> str:
    if not xs:
        return "(no runs)"
    return f"[{min(xs):{fmt}}-{max(xs):{fmt}}]"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated torchvision names")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds before a child is killed")
    args = p.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]

    print(subprocess.run([sys.executable, "--version"], capture_output=True, text=True).stdout.strip())
    versions = subprocess.run(
        [sys.executable, "-c", "import torch, torchvision; print(torch.__version__, torchvision.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    print(f"torch {versions[0]}, torchvision {versions[1]}")
    print(f"interpreter {sys.executable}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}; "
          f"cpus {os.cpu_count()}; repeats {args.repeats}")
    print()

    # results[model][tool] = list of per-repeat dicts (None where the run failed)
    results: dict[str, dict[str, list[dict | None]]] = {m: {t: [] for t in TOOLS} for m in models}
    failures: list[str] = []
    params: dict[str, int | None] = {}
    total_start = time.perf_counter()
    for r in range(args.repeats):
        for model in models:
            for tool in TOOLS:
                res = run_once(command(tool, model), args.timeout)
                ok = res["rc"] == 0
                print(f"repeat {r + 1}/{args.repeats}  {model:16s} {tool:9s} {res['wall']:8.2f} s "
                      f"{res['rss']:8.0f} MB" + ("" if ok else f"   FAILED rc={res['rc']}"), flush=True)
                if ok:
                    results[model][tool].append(res)
                    if tool == "flopcalc" and params.get(model) is None:
                        params[model] = flopcalc_params(res["stdout"])
                else:
                    results[model][tool].append(None)
                    tail = "\n".join(res["stderr"].strip().splitlines()[-15:])
                    failures.append(f"{model} {tool} repeat {r + 1} rc={res['rc']}:\n{tail}")
    print(f"\nall runs: {time.perf_counter() - total_start:.0f} s")

    verdicts: list[tuple[str, bool | None]] = []
    for model in models:
        runs = results[model]
        wall = {t: [x["wall"] for x in runs[t] if x] for t in TOOLS}
        rss = {t: [x["rss"] for x in runs[t] if x] for t in TOOLS}
        mwall = {t: med(wall[t]) for t in TOOLS}
        mrss = {t: med(rss[t]) for t in TOOLS}

        def per_repeat(fn) -> list[float]:
            """``fn`` applied to each repeat where every tool it reads succeeded."""
            vals = []
            for i in range(args.repeats):
                row = {t: runs[t][i] for t in TOOLS}
                try:
                    v = fn(row)
                except (TypeError, ZeroDivisionError):
                    continue
                vals.append(v)
            return vals

        n = params.get(model) or KNOWN_PARAMS.get(model)
        big = n is not None and n > BIG
        print(f"\n== {model}  ({n / 1e6:.1f}M params{', over 50M' if big else ''})" if n else f"\n== {model}")
        print(f"{'tool':9s} {'wall s':>8s} {'(min-max)':>16s} {'peak MB':>8s} {'(min-max)':>14s} "
              f"{'above import s':>14s} {'(min-max)':>16s} {'ok':>4s}")
        for t in TOOLS:
            floor = FLOOR.get(t, "bare")
            above = mwall[t] - mwall[floor]
            above_r = per_repeat(lambda row, t=t, floor=floor: row[t]["wall"] - row[floor]["wall"])
            above_s = "" if t == "bare" else f"{above:14.2f} {spread(above_r, '.2f'):>16s}"
            print(f"{t:9s} {mwall[t]:8.2f} {spread(wall[t], '.2f'):>16s} {mrss[t]:8.0f} "
                  f"{spread(rss[t], '.0f'):>14s} {above_s:>31s} {len(wall[t]):>2d}/{args.repeats}")

        fc_above = mwall["flopcalc"] - mwall["frozen"]
        for peer in PEERS:
            ratio = fc_above / (mwall[peer] - mwall["bare"])
            ratio_r = per_repeat(lambda row, peer=peer: (row["flopcalc"]["wall"] - row["frozen"]["wall"])
                                 / (row[peer]["wall"] - row["bare"]["wall"]))
            whole = mwall["flopcalc"] / mwall[peer]
            whole_r = per_repeat(lambda row, peer=peer: row["flopcalc"]["wall"] / row[peer]["wall"])
            print(f"flopcalc/{peer:8s} time above import {ratio:6.3f}x {spread(ratio_r, '.3f'):>15s}   "
                  f"whole process {whole:6.3f}x {spread(whole_r, '.3f'):>15s}")
            limit = 0.5 if big else 1.0
            ok = None if ratio != ratio else ratio <= limit
            verdicts.append((f"{model:16s} time above import vs {peer:8s} {ratio:6.3f}x <= {limit:.1f}x", ok))
        drss = mrss["flopcalc"] - mrss["bare"]
        drss_r = per_repeat(lambda row: row["flopcalc"]["rss"] - row["bare"]["rss"])
        print(f"flopcalc peak RSS above bare import {drss:7.0f} MB {spread(drss_r, '.0f'):>12s}")
        ok = None if drss != drss else drss <= RSS_LIMIT_MB
        verdicts.append((f"{model:16s} peak RSS above import {drss:7.0f} MB <= {RSS_LIMIT_MB:.0f} MB", ok))

    print("\nmodels over 50M parameters (known count; flopcalc's count where it ran):")
    for model in models:
        known, got = KNOWN_PARAMS.get(model), params.get(model)
        n = got or known
        known_s = f"{known / 1e6:.1f}M" if known else "?"
        got_s = f"{got / 1e6:.1f}M" if got else "?"
        print(f"  {model:16s} known {known_s:>8s}  flopcalc {got_s:>8s}  "
              f"{'over 50M' if n and n > BIG else 'not over 50M'}")

    print("\ntargets (flopcalc time above its import floor <= 1.0x peers' above theirs, <= 0.5x over 50M params; "
          "peak RSS <= 100 MB above import):")
    for text, ok in verdicts:
        print(f"  {'PASS' if ok else 'FAIL' if ok is False else 'N/A '}  {text}")

    if failures:
        print("\nfailed processes (last lines of stderr):")
        for f in failures:
            print(f"--- {f}")


if __name__ == "__main__":
    main()

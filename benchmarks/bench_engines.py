"""The engines and the restated latency goals of issue #20, measured side by side in one run (run it on a quiet
machine: 20-30 minutes on 2 cores, most of it converting models once; conversions are cached).

Every measurement is flopcalc's own command in a fresh process, one engine per process: engines' thread
pools (OpenMP, TBB, XNNPACK's) left spinning in one process slow the next engine down.

1. **Fast**: V2 1.0 at 224, batch 1, float32 on torch and every engine, in two interleaved rounds:
   images/s, the repeats' spread, fraction of the measured matmul peak. Goal: the fastest engine reaches
   70% of the peak.
2. **int8**: the same model in int8 on each engine that runs it, beside its float32 (batch 1 and 32).
   Goal: 2x. (Top-1 on the digits: ``flopcalc experiment backends``.)
3. **Prediction as good as a re-measurement**: torch's calibration (``flopcalc machine``) and each
   ``--engines`` engine's (``machine --backend``), then ``bench --grid --predict`` per engine: the 50
   configs at batch 1 and 32, measured twice in interleaved sweeps; the prediction's share within 15% of
   the first measurement beside the second measurement's, the median |difference| of each, Spearman
   (and MAdds alone). Goals: share at least the re-measurement's minus 5 points; median |error| at most
   1.25x the re-measurement's; Spearman at least 0.95.
4. **Per layer**: V2 1.0 at 224, batch 32, on torch and each ``--engines`` engine that times its layers
   (OpenVINO, ONNX Runtime): Spearman of the calibrated per-layer prediction against the measured layer
   times. Goal: 0.9.

Run: ``python benchmarks/bench_engines.py [--engines ncnn,openvino] [--profile FILE] [--calibrate]
[--skip-grid] [--record reports/data/bench_grid.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from timing import ROOT

ENGINES = ("torch", "onnxruntime", "openvino", "executorch", "ncnn")
INT8 = ("torch", "onnxruntime", "openvino", "executorch")


def flopcalc(*argv: str, profile: str, threads: int) -> dict:
    """``flopcalc ARGV --format json`` in a fresh process; its document."""
    cmd = [sys.executable, "-m", "flopcalc", *argv, "--profile", profile, "--threads", str(threads), "--quiet",
           "--format", "json"]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()[-500:]}")
    return json.loads(p.stdout)


def fast(run, rounds: int = 2) -> dict:
    print("1. V2 1.0 at 224, batch 1, float32: images/s, spread of repeats, fraction of the matmul peak "
          f"({rounds} interleaved rounds, one process each)")
    times: dict[str, list[dict]] = {b: [] for b in ENGINES}
    for _ in range(rounds):
        for b in ENGINES:
            times[b].append(run("bench", "mobilenet_v2", "--backend", b)["runs"][0])
    out = {}
    for b, rs in times.items():
        ms = [r["measured_ms"] for r in rs]
        out[b] = {"ms": statistics.median(ms), "rounds_ms": ms, "spread": statistics.median(r["spread"] for r in rs),
                  "fraction_of_peak": statistics.median(r["fraction_of_peak"] for r in rs)}
        print(f"   {b:12s} {1e3 / out[b]['ms']:7.1f} img/s  {out[b]['ms']:6.2f} ms (rounds "
              f"{', '.join(f'{m:.2f}' for m in ms)}; repeats' spread {100 * out[b]['spread']:.1f}%)  "
              f"{100 * out[b]['fraction_of_peak']:5.1f}% of peak")
    best = max(out, key=lambda b: out[b]["fraction_of_peak"])
    print(f"   fastest: {best}, {100 * out[best]['fraction_of_peak']:.1f}% of peak; goal 70%: "
          f"{'MET' if out[best]['fraction_of_peak'] >= 0.7 else 'NOT MET'}")
    return out


def int8(run) -> dict:
    print("2. int8 against float32 on the same engine, V2 1.0 at 224")
    out = {}
    for b in INT8:
        for batch in ("1", "32"):
            f, q = (run("bench", "mobilenet_v2", "--backend", b, "--dtype", d, "--batch", batch)["runs"][0]
                    for d in ("float32", "int8"))
            ratio = f["measured_ms"] / q["measured_ms"]
            out[f"{b} b{batch}"] = {"float32_ms": f["measured_ms"], "int8_ms": q["measured_ms"], "speedup": ratio}
            print(f"   {b:12s} b{batch:<2s} float32 {f['measured_ms']:7.2f} ms (spread {100 * f['spread']:4.1f}%), "
                  f"int8 {q['measured_ms']:7.2f} ms (spread {100 * q['spread']:4.1f}%): {ratio:.2f}x; goal 2x: "
                  f"{'MET' if ratio >= 2 else 'NOT MET'}")
    return out


def prediction(run, backends, record=None) -> dict:
    out = {}
    for b in backends:
        t = time.perf_counter()
        doc = run("bench", "--grid", "--predict", "--backend", b)
        if record and b == "torch":
            with open(record, "w") as f:
                json.dump(doc, f, indent=2)
                f.write("\n")
        print(f"3. {b}: the 50-config grid at batch 1 and 32, each measured twice ({time.perf_counter() - t:.0f} s)")
        for s in doc["summary"]:
            print(f"   b{s['batch']:<2d} within 15%: predicted {100 * s['within_15']:.0f}%, re-measured "
                  f"{100 * s['remeasured_within_15']:.0f}%; median |diff|: predicted "
                  f"{100 * s['median_abs_error']:.1f}%, re-measured {100 * s['median_abs_remeasured']:.1f}%; "
                  f"Spearman predicted {s['spearman']:.3f}, re-measured {s['spearman_remeasured']:.3f}, "
                  f"MAdds alone {s['spearman_macs']:.3f}")
        for g in doc["goals"]:
            print(f"   b{g['batch']:<2d} {g['goal']:17s} {g['met']:3s} {g['figures']}")
        out[b] = {"summary": doc["summary"], "goals": doc["goals"]}
    return out


def per_layer(run, backends) -> dict:
    print("4. per-layer Spearman, V2 1.0 at 224 batch 32 (calibrated prediction against measured layer times)")
    out = {}
    for b in ("torch", "openvino", "onnxruntime"):
        if b not in backends:
            continue
        doc = run("bench", "mobilenet_v2", "--batch", "32", "--per-layer", "--backend", b)
        rho, roof = doc["rank_correlation_calibrated"], doc["rank_correlation"]
        out[b] = {"calibrated": rho, "roofline": roof, "layers": len(doc["layers"])}
        print(f"   {b:12s} {len(doc['layers'])} layers: Spearman {rho:.3f} (roofline {roof:.3f}); goal 0.9: "
              f"{'MET' if rho is not None and rho >= 0.9 else 'NOT MET'}")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--engines", default="ncnn,openvino", help="engines calibrated and judged beside torch")
    p.add_argument("--profile", default=os.path.join(ROOT, "build", "bench-engines-machine.json"))
    p.add_argument("--calibrate", action="store_true", help="measure torch's profile afresh first")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip-grid", action="store_true")
    p.add_argument("--record", default=None, help="write torch's grid (bench --grid --predict's JSON) here")
    p.add_argument("--out", default=None, help="the figures as JSON")
    args = p.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.profile)), exist_ok=True)

    def run(*argv):
        return flopcalc(*argv, profile=args.profile, threads=args.threads)
    engines = [e for e in args.engines.split(",") if e]
    doc = {}
    if args.calibrate or not os.path.exists(args.profile):
        m = run("machine")
        print(f"calibrated torch: {m['peak_gflops']:.0f} GFLOP/s peak, median |error| "
              f"{100 * m['fit']['network_median_error']:.1f}% on the off-grid networks ({m['seconds']:.0f} s)")
    for e in engines:
        m = run("machine", "--backend", e)
        fit = m["engines"][e]["fit"]
        print(f"calibrated {e}: median |error| {100 * fit['network_median_error']:.1f}% on {fit['networks']} off-grid "
              f"networks ({fit['seconds']:.0f} s)")
    doc["fast"] = fast(run)
    doc["int8"] = int8(run)
    if not args.skip_grid:
        doc["prediction"] = prediction(run, ["torch"] + engines, args.record)
    doc["per_layer"] = per_layer(run, ["torch"] + engines)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(doc, f, indent=1)
    print("each figure a median of repeats (spread: their coefficient of variation), each in its own process")


if __name__ == "__main__":
    main()

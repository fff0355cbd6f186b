"""The engines and the restated latency goals of issue #20, measured side by side in one run (run it on a
quiet machine; it takes 15-25 minutes on 2 cores, most of it converting models once: conversions are cached).

1. **Fast**: V2 1.0 at 224, batch 1, float32 on torch and every engine: images/s, spread, fraction of the
   measured matmul peak. Goal: the fastest engine at least 70% of the peak.
2. **int8**: the same model in int8 on each engine that runs it, against its float32. Goal: 2x.
3. **Prediction as good as a re-measurement**: torch's calibration (flopcalc machine) and each
   ``--engines`` engine's (machine --backend), then the 50-config grid at batch 1 and 32 measured twice in
   interleaved sweeps: the prediction's share within 15% of the first measurement beside the second
   measurement's, the median |difference| of each, and Spearman (with MAdds alone beside it). Goals: share
   at least the re-measurement's minus 5 points; median |error| at most 1.25x; Spearman at least 0.95.
4. **Per layer**: V2 1.0 at 224 batch 32 on OpenVINO (its performance counters) and torch: Spearman of the
   calibrated per-layer prediction against the measured layer times. Goal: 0.9.

Run: ``python benchmarks/bench_engines.py [--engines ncnn,openvino] [--profile FILE] [--skip-grid]``.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from timing import ROOT  # noqa: F401  (puts the repository on sys.path)

from flopcalc.latency import load_machine, save_machine  # noqa: E402
from flopcalc.nn import calibrate, engines  # noqa: E402
from flopcalc.nn.bench import bench, grid  # noqa: E402
from flopcalc.views.latency import goals, grid_summary  # noqa: E402


def fast(machine) -> dict:
    print("1. V2 1.0 at 224, batch 1, float32: images/s (spread), fraction of the matmul peak "
          f"({machine.peak_flops / 1e9:.0f} GFLOP/s)")
    out = {}
    for backend in engines.ENGINES:
        try:
            r = bench("mobilenet_v2", 1.0, 224, 1, machine=machine, backend=backend, min_time=2.0)
        except engines.EngineError as e:
            print(f"   {backend:12s} not run: {e}")
            continue
        frac = 2 * r.macs / r.measured_s / machine.peak_flops
        out[backend] = {"ms": r.measured_s * 1e3, "spread": r.spread, "fraction_of_peak": frac}
        print(f"   {backend:12s} {r.images_per_second:7.1f} img/s  {r.measured_s * 1e3:6.2f} ms "
              f"(spread {100 * r.spread:4.1f}%)  {100 * frac:5.1f}% of peak")
    best = max(out, key=lambda b: out[b]["fraction_of_peak"])
    ok = out[best]["fraction_of_peak"] >= 0.7
    print(f"   fastest: {best}, {100 * out[best]['fraction_of_peak']:.1f}% of peak; goal 70%: "
          f"{'MET' if ok else 'NOT MET'}")
    return out


def int8(machine, float_ms: dict) -> dict:
    print("2. int8 against float32, V2 1.0 at 224 (batch 1 and 32)")
    out = {}
    for backend in ("torch", "onnxruntime", "openvino", "executorch"):
        for batch in (1, 32):
            runs = {}
            for dtype in ("float32", "int8"):
                try:
                    r = bench("mobilenet_v2", 1.0, 224, batch, machine=machine, backend=backend, dtype=dtype,
                              min_time=2.0)
                except engines.EngineError as e:
                    print(f"   {backend} {dtype} not run: {e}")
                    break
                runs[dtype] = r
            if len(runs) == 2:
                ratio = runs["float32"].measured_s / runs["int8"].measured_s
                out[f"{backend} b{batch}"] = ratio
                print(f"   {backend:12s} b{batch:<2d} float32 {runs['float32'].measured_s * 1e3:7.2f} ms "
                      f"(spread {100 * runs['float32'].spread:4.1f}%), int8 {runs['int8'].measured_s * 1e3:7.2f} ms "
                      f"(spread {100 * runs['int8'].spread:4.1f}%, top-1 = float's "
                      f"{100 * runs['int8'].check['top1_agreement']:.0f}% on random images): {ratio:.2f}x; goal 2x: "
                      f"{'MET' if ratio >= 2 else 'NOT MET'}")
    return out


def prediction(machine, backends, profile) -> dict:
    out = {}
    for backend in backends:
        if backend != "torch" and backend not in machine.calibration.get("engines", {}):
            t = time.perf_counter()
            machine.calibration.setdefault("engines", {})[backend] = calibrate.calibrate_engine(machine, backend)
            save_machine(machine, profile)
            fit = machine.calibration["engines"][backend]["fit"]
            print(f"   calibrated {backend} in {time.perf_counter() - t:.0f} s: median |error| "
                  f"{100 * fit['network_median_error']:.1f}% on {fit['networks']} off-grid networks")
        t = time.perf_counter()
        results = grid(machine, (1, 32), backend=backend)
        print(f"3. {backend}: the 50-config grid at batch 1 and 32, measured twice ({time.perf_counter() - t:.0f} s)")
        summary = grid_summary(results)
        for s in summary:
            print(f"   b{s['batch']:<2d} within 15%: predicted {100 * s['within_15']:.0f}%, re-measured "
                  f"{100 * s['remeasured_within_15']:.0f}%; median |diff|: predicted "
                  f"{100 * s['median_abs_error']:.1f}%, re-measured {100 * s['median_abs_remeasured']:.1f}%; "
                  f"Spearman predicted {s['spearman']:.3f}, "
                  f"re-measured {s['spearman_remeasured']:.3f}, MAdds alone {s['spearman_macs']:.3f}")
        for g in goals(summary):
            print(f"   b{g['batch']:<2d} {g['goal']:17s} {g['met']:3s} {g['figures']}")
        out[backend] = {"summary": summary, "goals": goals(summary),
                        "configs": [{"model": r.model, "alpha": r.alpha, "resolution": r.resolution[0],
                                     "batch": r.batch, "measured_ms": r.measured_s * 1e3,
                                     "remeasured_ms": r.remeasured_s * 1e3, "predicted_ms": r.predicted_s * 1e3,
                                     "spread": r.spread} for r in results]}
    return out


def per_layer(machine) -> dict:
    print("4. per-layer Spearman, V2 1.0 at 224 batch 32 (calibrated prediction against measured layer times)")
    out = {}
    for backend in ("torch", "openvino"):
        if backend != "torch" and backend not in machine.calibration.get("engines", {}):
            print(f"   {backend}: not calibrated here (--engines {backend})")
            continue
        r = bench("mobilenet_v2", 1.0, 224, 32, machine=machine, backend=backend, per_layer=True)
        out[backend] = r.rank_correlation_calibrated
        print(f"   {backend:12s} {len(r.layers)} layers: Spearman {r.rank_correlation_calibrated:.3f} "
              f"(roofline {r.rank_correlation:.3f}); goal 0.9: "
              f"{'MET' if r.rank_correlation_calibrated >= 0.9 else 'NOT MET'}")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--engines", default="ncnn", help="engines whose prediction is judged beside torch's")
    p.add_argument("--profile", default=None, help="the machine profile (made with flopcalc machine if missing)")
    p.add_argument("--skip-grid", action="store_true")
    p.add_argument("--out", default=None, help="write the figures as JSON here")
    args = p.parse_args()
    from flopcalc.nn.runtime import keep_freed_memory, set_threads
    keep_freed_memory()
    print(f"threads: {set_threads(None)}")
    try:
        machine = load_machine(args.profile)
    except Exception:  # noqa: BLE001 - no profile yet: measure one
        t = time.perf_counter()
        machine = calibrate.calibrate(torch.get_num_threads())
        save_machine(machine, args.profile)
        print(f"calibrated torch in {time.perf_counter() - t:.0f} s")
    if not machine.calibration:
        raise SystemExit("the profile has no calibration: run flopcalc machine")
    doc = {"machine": {"peak_gflops": machine.peak_flops / 1e9, "threads": machine.threads}}
    doc["fast"] = fast(machine)
    doc["int8"] = int8(machine, doc["fast"])
    backends = ["torch"] + [b for b in args.engines.split(",") if b]
    if not args.skip_grid:
        doc["prediction"] = prediction(machine, backends, args.profile)
    doc["per_layer"] = per_layer(machine)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(doc, f, indent=1)
    print("spread: the coefficient of variation of a timing's repeats; every time a median of repeats")


if __name__ == "__main__":
    main()

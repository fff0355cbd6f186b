"""Latency goals, measured side by side in one run (run it on a quiet machine).

1. Inference speed of MobileNet V2 (alpha 1, 224x224, batch 32), each variant in a fresh
   process: plain eager NCHW with glibc's default allocator; with freed memory kept
   (keep_freed_memory); then channels-last; then batch norm folded too (optimize_for_inference,
   what flopcalc runs); torch.compile with --compile where a C++ compiler is present; ONNX
   Runtime. Images/s and the ratio to plain eager. Goal: the optimized model at least 2.5x.
2. The optimized model's achieved FLOP/s as a fraction of the measured matmul peak. Goal: 30%.
3. Per-layer times inside the optimized model against the roofline and the calibrated
   prediction: Spearman rank correlation. Goal: 0.8.
4. Whole-model prediction for the 50 configs of the verify grid at batch 1 and 32, from the
   machine profile alone. Goal: at least 90% within 15%.

Run: ``python benchmarks/bench_latency.py [--calibrate] [--skip-grid]``. It uses the cached
machine profile (``flopcalc machine``); ``--calibrate`` measures a fresh one first.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import torch

from timing import ROOT

sys.path.insert(0, str(ROOT))

import flopcalc  # noqa: E402
from flopcalc.latency import load_machine, save_machine  # noqa: E402
from flopcalc.nn import build  # noqa: E402
from flopcalc.nn.bench import bench, grid, onnx_session, time_onnx, time_torch  # noqa: E402
from flopcalc.nn.optimize import optimize_for_inference  # noqa: E402
from flopcalc.nn.runtime import compiler_available  # noqa: E402
from flopcalc.views.latency import grid_summary  # noqa: E402


VARIANTS = {
    "eager NCHW, glibc's default allocator": dict(keep=False, cl=False, fold=False),
    "eager NCHW, freed memory kept": dict(keep=True, cl=False, fold=False),
    "+ channels-last": dict(keep=True, cl=True, fold=False),
    "+ batch norm folded (flopcalc's optimized model)": dict(keep=True, cl=True, fold=True),
    "+ torch.compile": dict(keep=True, cl=True, fold=True, compile=True),
    "onnxruntime": dict(keep=False, ort=True),
}
OPTIMIZED = "+ batch norm folded (flopcalc's optimized model)"


def variant(name: str) -> float:
    """Seconds per batch of one variant, in this (fresh) process."""
    from flopcalc.nn.runtime import keep_freed_memory
    v = VARIANTS[name]
    if v.get("keep"):
        keep_freed_memory()
    net = build("mobilenet_v2", 1.0, 1000).eval()
    x = torch.randn(32, 3, 224, 224)
    if v.get("ort"):
        return time_onnx(onnx_session(net, (224, 224), torch.get_num_threads()), x, min_time=3.0)
    if v["fold"]:
        model = optimize_for_inference(net, compile=v.get("compile", False))
    elif v["cl"]:
        model = optimize_for_inference(net, fold_bn=False)
    else:
        model = net
    return time_torch(model, x, min_time=3.0).median_s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibrate", action="store_true", help="measure the machine profile first")
    ap.add_argument("--skip-grid", action="store_true", help="skip goal 4 (about 2 minutes)")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (slow to start)")
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.variant:
        print(json.dumps(variant(args.variant)))
        return 0
    from flopcalc.nn.runtime import keep_freed_memory
    keep_freed_memory()
    if args.calibrate:
        from flopcalc.nn.calibrate import calibrate
        save_machine(calibrate())
    machine = load_machine()
    print(f"machine: {machine.describe()}")

    print("\n1. MobileNet V2 1.0, 224x224, batch 32 (each variant in a fresh process)")
    times = {}
    for name, v in VARIANTS.items():
        if v.get("compile") and not (args.compile and compiler_available()):
            continue
        out = subprocess.run([sys.executable, __file__, "--variant", name], capture_output=True, text=True,
                             check=True, cwd=ROOT)
        times[name] = json.loads(out.stdout)
    eager, kept = times["eager NCHW, glibc's default allocator"], times["eager NCHW, freed memory kept"]
    for name, t in times.items():
        print(f"   {name:50s} {32 / t:7.1f} images/s  {eager / t:5.2f}x eager")
    opt = times[OPTIMIZED]
    print(f"   goal: optimized >= 2.5x plain eager: {eager / opt:.2f}x {'MET' if eager / opt >= 2.5 else 'NOT MET'} "
          f"({kept / opt:.2f}x eager with the same allocator)")

    macs = flopcalc.analyze("mobilenet_v2", 1.0, 224, batch=32).total.macs
    frac = 2 * macs / opt / machine.peak_flops
    print(f"\n2. fraction of the matmul peak ({machine.peak_flops / 1e9:.0f} GFLOP/s): optimized {100 * frac:.1f}%, "
          f"onnxruntime {100 * 2 * macs / times['onnxruntime'] / machine.peak_flops:.1f}%; "
          f"goal 30%: {'MET' if frac >= 0.3 else 'NOT MET'}")

    r = bench("mobilenet_v2", 1.0, (224, 224), 32, machine=machine, per_layer=True)
    best = max(r.rank_correlation, r.rank_correlation_calibrated or -1)
    print(f"\n3. per-layer Spearman, V2 batch 32 ({len(r.layers)} layers): roofline {r.rank_correlation:.3f}, "
          f"calibrated {r.rank_correlation_calibrated:.3f}; goal 0.8: {'MET' if best >= 0.8 else 'NOT MET'}")

    if not args.skip_grid:
        results = grid(machine)
        print("\n4. whole-model prediction over the verify grid (3 interleaved sweeps, median)")
        for s in grid_summary(results):
            print(f"   batch {s['batch']:2d}: {100 * s['within_15']:.0f}% of {s['configs']} within 15% "
                  f"(median |error| {100 * s['median_abs_error']:.1f}%, worst {100 * s['max_abs_error']:.1f}%); "
                  f"goal 90%: {'MET' if s['within_15'] >= 0.9 else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Speed of the PyTorch side, measured side by side in one run.

1. ``flopcalc verify --grid`` (50 configs, every layer checked) as a whole process
   (target: under 2 minutes on 2 CPU cores).
2. For one config (MobileNet V2, alpha 1.0, 224): the analyzer's in-process time against
   fvcore's trace of the built model (target: the analyzer over 1000x faster). Like for
   like: fvcore traces a model already built, the analyzer walks a spec already built;
   the cold time (spec built and flattened first) is printed too.

Run: ``python benchmarks/bench_verify.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import warnings

from timing import ROOT, median_seconds

sys.path.insert(0, str(ROOT))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--skip-grid", action="store_true")
    runs = p.parse_args().runs

    import torch

    from flopcalc import analyze
    from flopcalc.nn import build
    from flopcalc.nn.verify import fvcore_flops
    from flopcalc.zoo import _cached

    config = ("mobilenet_v2", 1.0, 224)

    def cold():
        _cached.cache_clear()  # build and flatten the spec too, as a first call would
        analyze(*config)

    net = build(config[0], config[1]).eval()
    x = torch.zeros(1, 3, config[2], config[2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_fvcore = median_seconds(lambda: fvcore_flops(net, x).total(), runs)
    t_cold = median_seconds(cold, runs * 20)
    analyze(*config)
    t_analyzer = median_seconds(lambda: analyze(*config), runs * 200)
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"fvcore trace of the built model               {t_fvcore * 1e3:10.3f} ms")
    print(f"analyze() of the built spec                   {t_analyzer * 1e3:10.3f} ms"
          f"   ratio {t_fvcore / t_analyzer:6.0f}x  (target > 1000x)")
    print(f"analyze() cold (spec built first)             {t_cold * 1e3:10.3f} ms"
          f"   ratio {t_fvcore / t_cold:6.0f}x")

    if not p.parse_args().skip_grid:
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "flopcalc", "verify", "--grid"], cwd=ROOT,
                           stdout=subprocess.PIPE, text=True)
        grid = time.perf_counter() - t0
        print(f"flopcalc verify --grid (exit {r.returncode})           {grid:10.1f} s   (target < 120 s)")
        print("  " + r.stdout.strip().splitlines()[-2])


if __name__ == "__main__":
    main()

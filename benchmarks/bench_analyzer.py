"""Speed of the analytical path, measured side by side in one run.

1. Whole-process wall time of ``flopcalc table mobilenet_v2 --alpha 0.75`` against
   ``python -c "import torch"`` on the same machine (target: ratio <= 0.06).
2. In-process time to analyze all 50 configs: V1/V2 x alpha {0.35, 0.5, 0.75, 1.0, 1.4}
   x resolution {96, 128, 160, 192, 224}, spec cache cleared first (target: < 25 ms).

Run: ``python benchmarks/bench_analyzer.py [--runs N]``. Medians over N runs, so a
neighbour's burst of load moves one sample, not the answer.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from timing import ROOT, median_seconds, wall_seconds

sys.path.insert(0, str(ROOT))

ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.4)
RESOLUTIONS = (96, 128, 160, 192, 224)


def grid_time(runs: int) -> float:
    from flopcalc import analyze
    from flopcalc.zoo import _cached

    def grid() -> None:
        _cached.cache_clear()  # build every spec too
        for model in ("mobilenet_v1", "mobilenet_v2"):
            for alpha in ALPHAS:
                for r in RESOLUTIONS:
                    analyze(model, alpha, r)
    return median_seconds(grid, runs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=21)
    runs = p.parse_args().runs
    py = sys.executable
    table = wall_seconds([py, "-m", "flopcalc", "table", "mobilenet_v2", "--alpha", "0.75"], runs)
    bare = wall_seconds([py, "-c", "pass"], runs)
    try:
        torch = wall_seconds([py, "-c", "import torch"], max(5, runs // 3))
    except subprocess.CalledProcessError:
        torch = None
    grid = grid_time(runs)
    print(f"python -c pass                               {bare * 1e3:8.1f} ms")
    print(f"flopcalc table mobilenet_v2 --alpha 0.75     {table * 1e3:8.1f} ms")
    if torch is None:
        print("python -c 'import torch'                     (torch not installed: no ratio)")
    else:
        print(f"python -c 'import torch'                     {torch * 1e3:8.1f} ms")
        print(f"ratio table / import torch                   {table / torch:8.3f}   (target <= 0.06)")
    print(f"analyze 50 configs in one process            {grid * 1e3:8.1f} ms   (target < 25 ms)")


if __name__ == "__main__":
    main()

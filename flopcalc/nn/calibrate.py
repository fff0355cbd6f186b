"""Measuring this machine for the latency model (``flopcalc machine``).

1. the float32 matrix-multiply peak (``torch.mm`` of 2048 x 2048 matrices) and the copy
   bandwidth (128 MiB copied: bytes read plus written), medians of repeats;
2. the Python cost of the optimized model's glue: a module call, a block's loop over its
   children, the channels-last wrapper;
3. random layers of every kind, each timed alone as the optimized model runs it (channels-last,
   batch norm folded into a biased conv, inference mode): never one of the verify grid's layer
   shapes;
4. MobileNets V1 and V2 at widths and resolutions off the verify grid, timed whole at batch 1
   and 32: never a config that ``bench --grid --predict`` predicts;
5. fits (non-negative least squares on relative error): per kind, the time of (3) as linear in
   the features of :func:`flopcalc.latency.features`; then the in-network terms from (4).

The result is a :class:`flopcalc.latency.MachineProfile`; predicting from it needs no torch.
"""

from __future__ import annotations

import math
import random
import statistics
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..scaling import GRID_ALPHAS, GRID_RESOLUTIONS
from ..timing import median_seconds
from ..latency import (FEATURES, IN_NETWORK, MachineProfile, Predictor, features, in_network_features,
                       layer_description, neighbour_key)
from ..zoo import DEFAULT_CLASSES

CL = torch.channels_last
KERNEL_SAMPLES = {"pointwise": 220, "depthwise": 170, "conv": 36, "activation": 110, "add": 60, "pool": 30,
                  "linear": 30}
# whole networks for the in-network terms: off the verify grid in width and resolution
NETWORKS = ([(m, a, (112, 144, 176, 208)[i % 4], 1) for m in ("mobilenet_v1", "mobilenet_v2")
             for i, a in enumerate((0.3, 0.45, 0.6, 0.9, 1.2, 1.6, 0.4, 0.55, 0.7, 0.85, 1.1, 1.3))]
            + [(m, a, r, 32) for m in ("mobilenet_v1", "mobilenet_v2")
               for a, r in ((0.45, 112), (0.9, 144), (1.2, 176), (0.6, 208))])
# the configs bench --grid predicts (V1 and V2 over sweep's default alphas and resolutions)
GRID = [(m, a, r) for m in ("mobilenet_v1", "mobilenet_v2") for a in GRID_ALPHAS for r in GRID_RESOLUTIONS]


def peak_and_bandwidth() -> tuple[float, float]:
    """(float32 matrix-multiply FLOP/s, copy bytes/s). The peak is the faster of two matrix
    multiplies: ``torch.mm`` of 2048 x 2048 matrices (BLAS) and a 1x1 convolution of 1024 to 1024
    channels on a channels-last 32 x 14 x 14 batch (oneDNN's GEMM, what the models' pointwise
    layers run); on AVX-512 machines the second is measured twice as fast."""
    with torch.inference_mode():
        n = 2048
        a, b, c = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
        blas = 2 * n ** 3 / median_seconds(lambda: torch.mm(a, b, out=c), 5, 0.3)
        conv = nn.Conv2d(1024, 1024, 1, bias=False).eval().to(memory_format=CL)
        x = torch.randn(32, 1024, 14, 14).contiguous(memory_format=CL)
        onednn = 2 * 32 * 1024 * 1024 * 14 * 14 / median_seconds(lambda: conv(x), 5, 0.3)
        peak = max(blas, onednn)
        src = torch.randn(32 * 2**20)
        dst = torch.empty_like(src)
        bandwidth = 2 * src.numel() * 4 / median_seconds(lambda: dst.copy_(src), 5, 0.2)
    return peak, bandwidth


def glue() -> dict:
    """The Python cost of what is not a kernel: an Identity call (a folded batch norm), an eval
    Dropout, a block's per-child loop and its own call, and the channels-last wrapper."""
    from ..spec import Network
    from .builders import Block
    from .optimize import Optimized
    spec = Network("glue", 3, ())
    x = torch.randn(1, 8, 4, 4).contiguous(memory_format=CL)
    with torch.inference_mode():
        ident, drop = nn.Identity(), nn.Dropout(0.2).eval()
        call = median_seconds(lambda: ident(x), 200, 0.05)
        dropout = median_seconds(lambda: drop(x), 200, 0.05)
        one = Block(spec, [("0", nn.Identity())])
        many = Block(spec, [(str(i), nn.Identity()) for i in range(64)])
        t1 = median_seconds(lambda: one(x), 200, 0.05)
        t64 = median_seconds(lambda: many(x), 100, 0.05)
        child = max(0.0, (t64 - t1) / 63 - call)
        block = max(0.0, t1 - child - call)
        wrapper = Optimized(nn.Identity(), True).eval()
        small, big = torch.randn(1, 3, 8, 8), torch.randn(8, 3, 160, 160)
        ts = median_seconds(lambda: wrapper(small), 200, 0.05)
        tb = median_seconds(lambda: wrapper(big), 20, 0.05)
        per_byte = max(0.0, (tb - ts) / ((big.numel() - small.numel()) * 4))
    return {"call_s": call, "dropout_s": dropout, "child_s": child, "block_call_s": block,
            "wrapper": [max(0.0, ts - call), per_byte]}


def grid_layer_shapes() -> set:
    """(kind, input shape, output shape) of every layer of the verify grid: never sampled."""
    from ..walk import count_layers
    return {(r.kind, tuple(r.input_shape), tuple(r.output_shape))
            for m, a, res in GRID for r in count_layers(m, a, res, DEFAULT_CLASSES).layers}


def _r8(x: float) -> int:
    return max(8, int(round(x / 8.0)) * 8)


class Sampler:
    """Random MobileNet-like layers: channels times resolution roughly constant (32 channels at
    112 pixels), spread by up to 6x either way; batch 1, 32 or in between."""

    def __init__(self, seed: int, avoid: set):
        self.rng, self.avoid = random.Random(seed), avoid

    def _logu(self, lo, hi):
        return math.exp(self.rng.uniform(math.log(lo), math.log(hi)))

    def _batch(self):
        u = self.rng.random()
        return 1 if u < 0.45 else 32 if u < 0.9 else self.rng.randint(2, 48)

    def _size(self, lo=3, hi=115):
        return int(round(self._logu(lo, hi)))

    def _channels(self, h, lo, hi):
        return min(2560, _r8(32 * 112 / h * self._logu(lo, hi)))

    def sample(self, kind):
        """(description, module or op name, input shape), or None when it hit a grid shape."""
        b = self._batch()
        if kind == "pointwise":
            h = self._size()
            cin, cout = self._channels(h, 0.1, 13), self._channels(h, 0.1, 13)
            d = dict(kind=kind, B=b, cin=cin, cout=cout, h=h, w=h, ho=h, wo=h, k=1, s=1)
            m, shape, key = nn.Conv2d(cin, cout, 1), (b, cin, h, h), ((cin, h, h), (cout, h, h))
        elif kind == "depthwise":
            s = self.rng.choice((1, 1, 2))
            h = min(226, self._size(3 * s, 115 * s if s == 1 else 230))
            c = self._channels(max(1, h // s), 0.5, 6.5)
            ho = (h - 1) // s + 1
            d = dict(kind=kind, B=b, cin=c, cout=c, h=h, w=h, ho=ho, wo=ho, k=3, s=s)
            m, shape, key = nn.Conv2d(c, c, 3, s, 1, groups=c), (b, c, h, h), ((c, h, h), (c, ho, ho))
        elif kind == "conv":
            h, cout = self.rng.randint(80, 240), _r8(self._logu(8, 48))
            ho = (h - 1) // 2 + 1
            d = dict(kind=kind, B=b, cin=3, cout=cout, h=h, w=h, ho=ho, wo=ho, k=3, s=2)
            m, shape, key = nn.Conv2d(3, cout, 3, 2, 1), (b, 3, h, h), ((3, h, h), (cout, ho, ho))
        elif kind in ("activation", "add"):
            h = self._size()
            c = self._channels(h, 0.5, 6.5)
            d = dict(kind=kind, B=b, cin=c, cout=c, h=h, w=h, ho=h, wo=h)
            m = (nn.ReLU6(inplace=True) if self.rng.random() < 0.5 else nn.ReLU(inplace=True)) \
                if kind == "activation" else "add"
            shape, key = (b, c, h, h), ((c, h, h), (c, h, h))
        elif kind == "pool":
            h, c = self.rng.randint(2, 9), _r8(self._logu(200, 2600))
            d = dict(kind=kind, B=b, cin=c, cout=c, h=h, w=h, ho=1, wo=1)
            m, shape, key = "pool", (b, c, h, h), ((c, h, h), (c,))
        elif kind == "linear":
            fin, fout = _r8(self._logu(200, 2600)), self.rng.randint(10, 2000)
            d = dict(kind=kind, B=b, cin=fin, cout=fout, h=1, w=1, ho=1, wo=1)
            m, shape, key = nn.Linear(fin, fout), (b, fin), ((fin,), (fout,))
        else:
            raise KeyError(kind)
        return None if (kind, *key) in self.avoid else (d, m, shape)


def time_layer(module, shape) -> float:
    with torch.inference_mode():
        if module in ("add", "pool"):
            a = torch.randn(shape).contiguous(memory_format=CL)
            b = torch.randn(shape).contiguous(memory_format=CL)
            if module == "add":
                return median_seconds(lambda: a + b, 5, 0.02)
            return median_seconds(lambda: torch.flatten(F.adaptive_avg_pool2d(a, 1), 1), 5, 0.02)
        module = module.eval().requires_grad_(False)
        x = torch.randn(shape)
        if x.dim() == 4:
            module, x = module.to(memory_format=CL), x.contiguous(memory_format=CL)
        return median_seconds(lambda: module(x), 5, 0.02)


def nnls(A: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """min ||A x - b|| subject to x >= 0, and that residual norm: SciPy's ``optimize.nnls`` (Lawson and
    Hanson's active-set method, which ends at the exact optimum), so that a poor prediction is never a
    solver that stopped early."""
    from scipy.optimize import nnls as solve
    x, residual = solve(A, b)
    return x, float(residual)


def _fit_relative(X: np.ndarray, y: np.ndarray) -> tuple[list[float], float]:
    """Non-negative coefficients minimizing the relative error of X @ c against y, and the fit's residual:
    the root mean square of those relative errors."""
    scale = X.max(axis=0)
    scale[scale == 0] = 1.0
    c, residual = nnls((X / scale) / y[:, None], np.ones(len(y)))
    return (c / scale).tolist(), residual / math.sqrt(len(y))


def calibrate(threads: int | None = None, seed: int = 0, scale: float = 1.0, progress=None) -> MachineProfile:
    """Measure this machine (about a minute at ``scale`` 1; a progress callback gets (done, total))."""
    from ..walk import count_layers
    from .builders import build
    from .optimize import optimize_for_inference
    from .runtime import keep_freed_memory
    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    kept = keep_freed_memory()  # time kernels as bench runs them: no page faults per forward pass
    peak, bandwidth = peak_and_bandwidth()
    base = dict(glue(), kept_freed_memory=kept)
    sampler = Sampler(seed, grid_layer_shapes())
    plan = [k for k, n in KERNEL_SAMPLES.items() for _ in range(max(3, int(n * scale)))]
    sampler.rng.shuffle(plan)
    nets = NETWORKS if scale >= 1 else NETWORKS[::3]
    total, done = len(plan) + len(nets), 0
    samples = []
    for kind in plan:
        s = sampler.sample(kind)
        if s is not None:
            d, module, shape = s
            samples.append(dict(d, t=time_layer(module, shape)))
        done += 1
        if progress:
            progress(done, total)
    coef, residuals = {}, {}
    for kind in FEATURES:
        rows = [s for s in samples if s["kind"] == kind]
        coef[kind], residuals[kind] = _fit_relative(np.array([features(s) for s in rows], dtype=float),
                                                    np.array([s["t"] for s in rows]))
    cal = dict(base, coef=coef, in_network=[0.0] * len(IN_NETWORK), neighbours={})
    p = Predictor(cal)
    for s in samples:
        cal["neighbours"].setdefault(s["kind"], []).append(
            [list(neighbour_key(s)), math.log(s["t"] / max(p.parametric(s), 1e-12))])
    # whole networks in 3 interleaved sweeps (median): a slow spell of a shared machine moves one
    # sweep of every network, not every repeat of one
    built = [(optimize_for_inference(build(m, a, DEFAULT_CLASSES)), count_layers(m, a, r, DEFAULT_CLASSES, batch=b),
              torch.randn(b, 3, r, r), b) for m, a, r, b in nets]
    sweeps = [[], [], []]
    for sweep in sweeps:
        for net, _, x, _ in built:
            with torch.inference_mode():
                sweep.append(median_seconds(lambda: net(x), 3, 0.05))
        done += len(nets) / len(sweeps)
        if progress:
            progress(round(done), total)
    measured = [(a, batch, statistics.median(s[i] for s in sweeps)) for i, (_, a, _, batch) in enumerate(built)]
    # in-network terms: what whole networks took beyond the kernels and the glue
    p = Predictor(cal)
    X, extra, T = [], [], []
    for a, batch, t in measured:
        desc = [layer_description(r, batch) for r in a.layers]
        X.append(np.sum([in_network_features(d) for d in desc if d is not None], axis=0))
        extra.append(t - p.predict(a))
        T.append(t)
    X, extra, T = np.array(X), np.array(extra), np.array(T)
    sc = X.max(axis=0)
    sc[sc == 0] = 1.0
    in_network, network_residual = nnls((X / sc) / T[:, None], extra / T)
    cal["in_network"] = (in_network / sc).tolist()
    p = Predictor(cal)
    net_err = [abs(p.predict(a) / t - 1) for a, _, t in measured]
    kernel_err = {k: statistics.median(abs(p.parametric(s) / s["t"] - 1) for s in samples if s["kind"] == k)
                  for k in FEATURES}
    fit = {"kernel_samples": len(samples), "networks": len(measured),
           "kernel_median_error": kernel_err, "network_median_error": statistics.median(net_err),
           # each least-squares fit's residual, the root mean square of its relative errors (SciPy's nnls)
           "kernel_residual": residuals, "network_residual": network_residual / math.sqrt(len(T)),
           "network_max_error": max(net_err)}
    return MachineProfile(peak, bandwidth, torch.get_num_threads(), torch.__version__, cal, fit,
                   time.perf_counter() - start)



def quick(threads: int | None = None) -> MachineProfile:
    """Peak and bandwidth only (a few seconds): the roofline, no calibrated prediction."""
    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    peak, bandwidth = peak_and_bandwidth()
    return MachineProfile(peak, bandwidth, torch.get_num_threads(), torch.__version__,
                          seconds=time.perf_counter() - start)


# extra batched networks for an engine's fit: its batched terms need more than NETWORKS' four per model
ENGINE_NETWORKS = NETWORKS + [(m, a, r, 32) for m in ("mobilenet_v1", "mobilenet_v2")
                              for a, r in ((0.3, 112), (0.55, 176), (0.7, 144), (1.1, 112), (1.3, 144))]


def calibrate_engine(machine: MachineProfile, backend: str, scale: float = 1.0, progress=None,
                     rounds: int = 3) -> dict:
    """Fit ``backend``'s model (:class:`flopcalc.latency.EnginePredictor`) on off-grid networks that the
    engine runs, each converted (cached) and its outputs checked against torch's; timed in ``rounds``
    interleaved sweeps. Returns the engine's entry of the profile's calibration."""
    from ..latency import ENGINE_TERMS, HEAVY, EnginePredictor, predictor_for
    from ..walk import count_layers
    from .engines import engine_run, seeded_build, version
    predictor_for(machine, "torch")  # the engine's model re-weights torch's: that calibration first
    start = time.perf_counter()
    nets = ENGINE_NETWORKS if scale >= 1 else ENGINE_NETWORKS[::3]
    total, done = len(nets) * (rounds + 1), 0
    calls, compiled = [], []
    for m, a, r, b in nets:
        x = torch.randn(b, 3, r, r)
        c, _, call = engine_run(backend, seeded_build(m, a, DEFAULT_CLASSES), x)
        calls.append(call)
        compiled.append((c, x))
        done += 1
        if progress:
            progress(done, total)
    sweeps = []
    for _ in range(rounds):
        sweep = []
        for call in calls:
            sweep.append(median_seconds(call, 3, 0.05))
            done += 1
            if progress:
                progress(done, total)
        sweeps.append(sweep)
    T = np.array([statistics.median(s[i] for s in sweeps) for i in range(len(nets))])
    analyses = [count_layers(m, a, r, DEFAULT_CLASSES, batch=b) for m, a, r, b in nets]
    kernels, kernel_fit = engine_kernels(machine, compiled, analyses, T.tolist())
    p = EnginePredictor(machine.calibration, {"coef": [0.0] * len(ENGINE_TERMS), "kernels": kernels})
    X = []
    for an in analyses:
        desc = [(row.name, row.kind, layer_description(row, an.batch)) for row in an.layers]
        X.append(p.network_terms(desc, an.batch))
    # the fit's free terms: ENGINE_TERMS, or with the engine's own kernels one factor for every heavy group
    # of a regime (M maps the free terms onto ENGINE_TERMS)
    free = [[t] for t in ENGINE_TERMS]
    if kernels:
        tied = [[f"{g}_{regime}" for g in HEAVY] for regime in ("batch1", "batched")]
        free = tied + [[t] for t in ENGINE_TERMS if not any(t in group for group in tied)]
    M = np.array([[1.0 if t in group else 0.0 for group in free] for t in ENGINE_TERMS])
    X = np.array(X) @ M
    sc = X.max(axis=0)
    sc[sc == 0] = 1.0
    c, residual = nnls((X / sc) / T[:, None], np.ones(len(T)))
    entry = {"coef": (M @ (c / sc)).tolist(), "version": version(backend), "threads": torch.get_num_threads()}
    if kernels:
        entry["kernels"] = kernels
    fitted = EnginePredictor(machine.calibration, entry)
    errs = [abs(fitted.predict(an) / t - 1) for an, t in zip(analyses, T)]
    entry["fit"] = {"networks": len(nets), "network_median_error": statistics.median(errs),
                    "network_max_error": max(errs), "network_residual": residual / math.sqrt(len(T)),
                    "seconds": time.perf_counter() - start,
                    "spread": statistics.median(abs(s[i] / T[i] - 1) for s in sweeps for i in range(len(T))),
                    **kernel_fit}
    return entry


MIN_KERNEL_SAMPLES = 20  # fewer per-layer times of a kind: that kind keeps torch's kernel model


def engine_kernels(machine: MachineProfile, compiled, analyses, run_seconds=None) -> tuple[dict | None, dict]:
    """The engine's own kernel times, where it times its layers: each layer's time inside the calibration
    networks (the engine's per-node counters; a fused node under its conv), as a log ratio to torch's
    kernel model: per kind, the median, and each sample's difference from it for the neighbours'
    correction (:class:`flopcalc.latency.EnginePredictor`). (None, {}) for an engine that does not time its
    layers. ``run_seconds``: each network's measured time, to report how the profiled layers add up to it."""
    from .engines import engine_layer_seconds
    if any(c.layer_seconds is None for c, _ in compiled):
        return None, {}
    base = Predictor(machine.calibration)
    samples, sums = [], []
    for (c, x), an in zip(compiled, analyses):
        seconds = engine_layer_seconds(c, x, [(row.name, row.kind) for row in an.layers])
        sums.append(sum(seconds.values()))
        for row in an.layers:
            L = layer_description(row, an.batch)
            if L is not None and row.name in seconds and seconds[row.name] > 0:
                samples.append((L, math.log(seconds[row.name] / base.isolated(L))))
    counts = {k: sum(1 for L, _ in samples if L["kind"] == k) for k in FEATURES}
    kinds = [k for k, n in counts.items() if n >= MIN_KERNEL_SAMPLES]
    if not kinds:
        return None, {}
    ratio = {k: statistics.median(r for L, r in samples if L["kind"] == k) for k in kinds}
    kernels = {"log_ratio": ratio,
               "neighbours": {k: [[list(neighbour_key(L)), r - ratio[k]] for L, r in samples if L["kind"] == k]
                              for k in kinds}}
    fit = {"layer_samples": {k: counts[k] for k in kinds},
           # how far the engine's layers are from torch's model times the kind's ratio: the spread the
           # neighbours' correction works on
           "kernel_median_error": {k: statistics.median(abs(math.exp(r - ratio[k]) - 1) for L, r in samples
                                                        if L["kind"] == k) for k in kinds},
           "engine_over_torch": {k: math.exp(v) for k, v in ratio.items()}}
    if run_seconds is not None:
        over = [a / t for a, t in zip(sums, run_seconds)]
        fit["layers_over_run"] = {"median": statistics.median(over), "min": min(over), "max": max(over)}
    return kernels, fit

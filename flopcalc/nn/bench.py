"""Measured speed (``flopcalc bench``): images/s and per-layer times of the real models beside
the roofline and the calibrated prediction of :mod:`flopcalc.latency`.

Whole-model time is the median of repeated forward passes after warm-up, in inference mode,
on the optimized model (batch norm folded, channels-last; :func:`optimize_for_inference`),
the plain eager model (``eager``) or an ONNX Runtime session of the exported model. Per-layer
times come from hooks around every leaf module of the optimized model (medians over repeats;
the hooks cost a few microseconds each, so layer times add up to a little more than the whole).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field

import torch

from ..zoo import DEFAULT_CLASSES, family_of, model_name
from ..latency import LatencyError, MachineProfile, layer_times, predict
from ..stats import spearman
from ..errors import install_hint
from ..scaling import GRID_ALPHAS, GRID_RESOLUTIONS
from ..timing import Timing, measure, median_seconds
from .calibrate import GRID, NETWORKS

from ..scaling import as_pair
from ..scaling import DEFAULT_RESOLUTION
from .engines import engine_layer_seconds, engine_run

# off-grid networks of the calibration that bench --grid times beside the grid, to measure the machine's
# speed now against its profile: four at batch 1, two batched, small to large
ANCHORS = [n for n in NETWORKS if n in (("mobilenet_v1", 0.45, 144, 1), ("mobilenet_v1", 0.9, 208, 1),
                                        ("mobilenet_v2", 0.6, 176, 1), ("mobilenet_v2", 1.2, 112, 1),
                                        ("mobilenet_v1", 0.9, 144, 32), ("mobilenet_v2", 0.6, 208, 32))]


@dataclass
class BenchRun:
    model: str
    alpha: float
    resolution: tuple[int, int]
    batch: int
    threads: int
    backend: str
    mode: str                       # optimized, eager or onnxruntime
    measured_s: float
    macs: int
    predicted_s: float | None = None
    roofline_s: float | None = None
    layers: list[dict] = field(default_factory=list)
    rank_correlation: float | None = None
    rank_correlation_calibrated: float | None = None
    num_classes: int = DEFAULT_CLASSES
    inputs: tuple | None = None     # a recorded module's inputs (InputSpec); alpha and resolution then None
    dtype: str = "float32"
    spread: float | None = None     # coefficient of variation of the repeats (std / mean)
    remeasured_s: float | None = None  # a second measurement (bench --grid: interleaved with the first)
    check: dict | None = None       # an engine's outputs against torch's (engines.check_outputs)
    graph_macs: int | None = None   # the multiply-adds of the graph the engine runs, where it shows it
    conversion: dict | None = None  # an engine's conversion: cached or converted now, seconds, folder
    predicted_raw_s: float | None = None  # the profile's prediction before the grid's speed anchor
    speed_factor: float | None = None     # the machine's speed now against its profile (grid's anchors)

    @property
    def config(self) -> dict:
        """The config timed, as every command's JSON gives it."""
        if self.inputs is not None:
            return {"inputs": [str(i) for i in self.inputs], "batch": self.batch}
        return {"alpha": self.alpha, "resolution": list(self.resolution), "num_classes": self.num_classes,
                "batch": self.batch}

    @property
    def images_per_second(self) -> float:
        return self.batch / self.measured_s


def _eval_model(model, alpha: float, num_classes: int):
    from .engines import seeded_build
    return seeded_build(model, alpha, num_classes)


def prepared(net: torch.nn.Module, mode: str, compile: bool = False):
    from .optimize import optimize_for_inference
    if mode == "eager":
        return net.eval()
    return optimize_for_inference(net, compile=compile)


def time_torch(net, x: torch.Tensor, min_time: float = 0.5, min_reps: int = 5) -> Timing:
    with torch.inference_mode():
        return measure(lambda: net(x), min_reps, min_time, warmup=3)


def onnx_session(net: torch.nn.Module, resolution, threads: int, write=None):
    """An ONNX Runtime session of ``net`` (exported to a temporary file, then read back); ``write(path)``
    exports it another way (a module source on its own inputs)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise LatencyError(f"--backend onnxruntime needs onnx and onnxruntime: {install_hint('onnx')}") from None
    from .onnx_export import export
    fd, path = tempfile.mkstemp(suffix=".onnx")
    os.close(fd)
    try:
        if write is None:
            export(net, resolution, path)
        else:
            write(path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    finally:
        os.unlink(path)


def time_onnx(session, x: torch.Tensor, min_time: float = 0.5, min_reps: int = 5) -> float:
    feed = {"input": x.numpy()}
    return median_seconds(lambda: session.run(None, feed), min_reps, min_time, warmup=3)


def per_layer_seconds(net: torch.nn.Module, x: torch.Tensor, repeats: int = 7) -> dict[str, float]:
    """Median in-network seconds of every leaf module of ``net`` (an optimized or eager model),
    by the module's name in the plain model (the analyzer's row names)."""
    inner = net.model if hasattr(net, "model") and not isinstance(net, torch.nn.Sequential) else net
    leaves = [(n, m) for n, m in inner.named_modules() if n and not list(m.children())]
    starts: dict[str, float] = {}
    times: dict[str, list[float]] = {n: [] for n, _ in leaves}
    handles = []

    def pre(name):
        def hook(module, args):
            starts[name] = time.perf_counter()
        return hook

    def post(name):
        def hook(module, args, output):
            times[name].append(time.perf_counter() - starts[name])
        return hook

    for name, m in leaves:
        handles += [m.register_forward_pre_hook(pre(name)), m.register_forward_hook(post(name))]
    try:
        with torch.inference_mode():
            for _ in range(2):
                net(x)
            for v in times.values():
                v.clear()
            for _ in range(repeats):
                net(x)
    finally:
        for h in handles:
            h.remove()
    return {n: statistics.median(v) for n, v in times.items() if v}


def bench(model, alpha: float = 1.0, resolution=DEFAULT_RESOLUTION, batch: int = 1, *, num_classes: int | None = None,
          machine: MachineProfile | None = None, backend: str = "torch", eager: bool = False, per_layer: bool = False,
          min_time: float = 0.5, compile: bool = False, net: torch.nn.Module | None = None, dtype: str = "float32",
          calibration=None, analysis=None, name: str | None = None) -> BenchRun:
    """Measure one config (``net``: an already-loaded model, e.g. from a checkpoint) on ``backend``:
    torch's optimized (or eager) model, or an engine's conversion of it, checked against torch's outputs."""
    from ..conventions import analyze
    h, w = as_pair(resolution)
    a = analysis if analysis is not None else analyze(model, alpha, (h, w), num_classes, batch=batch)
    net = net if net is not None else _eval_model(model, alpha, a.config["num_classes"])
    x = torch.randn(batch, 3, h, w)
    threads = torch.get_num_threads()
    compiled = check = None
    if backend == "torch" and dtype == "float32":
        mode = "eager" if eager else "optimized"
        run = prepared(net, mode, compile)
        timing = time_torch(run, x, min_time)
    else:
        compiled, check, call = engine_run(backend, net, x, dtype, calibration, threads)
        if per_layer and compiled.layer_seconds is None:
            raise LatencyError(f"--per-layer needs an engine that reports per-layer times (torch, openvino); "
                               f"{backend} does not")
        mode = backend if dtype == "float32" else f"{backend} int8"
        timing = measure(call, 5, min_time, warmup=3)
    name = name or model_name(model)
    res = BenchRun(name, alpha, (h, w), batch, threads, backend, mode, timing.median_s, a.total.macs or 0,
                   num_classes=a.config["num_classes"], dtype=dtype, spread=timing.cv, check=check)
    if compiled is not None:
        res.graph_macs = compiled.graph_macs
        res.conversion = {"cached": compiled.cached, "rebuilt": compiled.rebuilt, "seconds": compiled.convert_s,
                          "folder": str(compiled.folder) if compiled.folder else None}
    if machine is not None:
        rows = _predictions(res, a, machine)
        if per_layer:
            if compiled is not None:
                seconds = engine_layer_seconds(compiled, x, [(r.name, r.kind) for r in rows])
            else:
                seconds = per_layer_seconds(run, x)
            for r in rows:
                if r.name in seconds and r.kind not in ("batchnorm", "dropout"):
                    res.layers.append({"name": r.name, "kind": r.kind, "macs": r.macs, "bytes": r.bytes,
                                       "bound": r.bound, "measured_s": seconds[r.name],
                                       "roofline_s": r.roofline_s, "predicted_s": r.predicted_s})
            if len(res.layers) > 1:
                res.rank_correlation = spearman([r["roofline_s"] for r in res.layers],
                                                [r["measured_s"] for r in res.layers])
                if machine.calibration:
                    res.rank_correlation_calibrated = spearman([r["predicted_s"] for r in res.layers],
                                                               [r["measured_s"] for r in res.layers])
    return res


def bench_module(net: torch.nn.Module, a, inputs, name: str, *, machine: MachineProfile | None = None,
                 backend: str = "torch", per_layer: bool = False, min_time: float = 0.5) -> BenchRun:
    """Measure any module (``a``: its recorded analysis) on ``inputs``, as it is: eager PyTorch (flopcalc's
    inference optimizations are for its own models) or ONNX Runtime on the module exported. Beside it,
    the roofline of its rows; the calibrated prediction covers the family's layers only, so none."""
    from ..sources import input_specs
    specs = input_specs(inputs)
    xs = [torch.randn(i.shape) if i.dtype.startswith(("float", "bfloat")) else torch.zeros(i.shape, dtype=getattr(
        torch, i.dtype)) for i in specs]
    threads = torch.get_num_threads()
    net = net.eval()
    compiled = check = None
    if backend == "onnxruntime":  # exported as export does it for any module: its own inputs, several too
        if per_layer:
            raise LatencyError("--per-layer times the torch model's modules; use it without --backend onnxruntime")
        timing, mode = _time_module_onnx(net, specs, xs, threads, min_time), "onnxruntime"
    elif backend != "torch":
        if len(xs) != 1 or xs[0].dtype != torch.float32:
            raise LatencyError(f"--backend {backend} runs a module of one float32 input; this one takes "
                               f"{', '.join(map(str, specs))}")
        if per_layer:
            raise LatencyError(f"--per-layer on a module source times its torch modules; leave out --backend "
                               f"{backend}")
        compiled, check, call = engine_run(backend, net, xs[0], "float32", None, threads)
        timing, mode = measure(call, 5, min_time, warmup=3), backend
    else:
        with torch.inference_mode():
            timing = measure(lambda: net(*xs), 5, min_time, warmup=3)
        mode = "eager"
    res = BenchRun(name, None, None, specs[0].shape[0], threads, backend, mode, timing.median_s, a.total.macs or 0,
                   inputs=specs, spread=timing.cv, check=check)
    if compiled is not None:
        res.graph_macs = compiled.graph_macs
        res.conversion = {"cached": compiled.cached, "rebuilt": compiled.rebuilt, "seconds": compiled.convert_s,
                          "folder": str(compiled.folder) if compiled.folder else None}
    if machine is not None:
        rows = layer_times(a, machine)
        res.roofline_s = sum(r.roofline_s for r in rows)
        if per_layer:
            seconds = per_layer_seconds(net, xs[0]) if len(xs) == 1 else {}
            for r in rows:
                if r.name in seconds:
                    res.layers.append({"name": r.name, "kind": r.kind, "macs": r.macs, "bytes": r.bytes,
                                       "bound": r.bound, "measured_s": seconds[r.name],
                                       "roofline_s": r.roofline_s, "predicted_s": None})
            if len(res.layers) > 1:
                res.rank_correlation = spearman([r["roofline_s"] for r in res.layers],
                                                [r["measured_s"] for r in res.layers])
    return res


def _time_module_onnx(net, specs, xs, threads: int, min_time: float) -> Timing:
    """A module of several inputs on ONNX Runtime (exported with its own inputs' names)."""
    from .onnx_export import export_module
    session = onnx_session(net, None, threads, write=lambda path: export_module(net, specs, path))
    feed = {i.name: x.numpy() for i, x in zip(session.get_inputs(), xs)}
    return measure(lambda: session.run(None, feed), 5, min_time, warmup=3)


def _predictions(res: BenchRun, a, machine: MachineProfile):
    """Set ``res``'s whole-model roofline and calibrated prediction; return the per-layer times."""
    from ..latency import predictor_for
    backend = res.backend if res.dtype == "float32" else None
    rows = layer_times(a, machine, backend=backend or "torch") if backend else layer_times(a, machine, "int8")
    res.roofline_s = sum(r.roofline_s for r in rows)
    if backend and predictor_for(machine, backend, required=False) is not None:
        res.predicted_s = predict(a, machine, backend)
    return rows


def grid(machine: MachineProfile, batches=(1, 32), progress=None, rounds: int = 2, min_time: float = 0.15,
         models=None, backend: str = "torch", anchor: bool = True) -> list[BenchRun]:
    """Every config of the grid (``models``, by default V1 and V2, over sweep's default alphas and
    resolutions) at each batch, on ``backend``: measured twice and predicted. The two measurements
    are taken in interleaved sweeps (first, second, first, second...: ``rounds`` sweeps each), each
    config's time in a sweep a median of repeats, a measurement the median over its sweeps: a slow
    spell of a shared machine then moves one sweep of many configs, not every repeat of one, and the
    second measurement says how far the first can be trusted.

    A shared machine's speed also drifts between its calibration and now (5-20% within minutes). With
    ``anchor``, every sweep also times a few of the calibration's own off-grid networks (ANCHORS, never a
    grid config); the median of their measured over predicted times, per regime (batch 1, batched), is
    the machine's speed now against its profile, and each prediction is scaled by it. The unscaled
    prediction is kept (``predicted_raw_s``)."""
    from ..conventions import analyze
    from ..walk import count_layers
    from .optimize import optimize_for_inference
    grid_configs = GRID if models is None else [(m, a, r) for m in models for a in GRID_ALPHAS
                                                for r in GRID_RESOLUTIONS]
    configs = [(m, a, r, b) for b in batches for m, a, r in grid_configs]
    predicting = anchor and _predictor(machine, backend) is not None
    anchors = [n for n in ANCHORS if n[3] in batches or (n[3] > 1 and any(b > 1 for b in batches))] \
        if predicting else []
    timed = configs + anchors
    nets: dict = {}
    times: dict = {c: ([], []) for c in timed}
    spreads: dict = {c: [] for c in timed}
    checked: dict = {}
    done, total = 0, len(timed) * rounds * 2
    for _ in range(rounds):
        for which in (0, 1):
            for c in timed:
                model, alpha, res, batch = c
                if (model, alpha) not in nets:
                    net = _eval_model(model, alpha, DEFAULT_CLASSES)
                    nets[(model, alpha)] = optimize_for_inference(net) if backend == "torch" else net
                x = torch.randn(batch, 3, res, res)
                if backend == "torch":
                    t = time_torch(nets[(model, alpha)], x, min_time)
                else:
                    # loaded from the conversion cache each sweep: a hundred engines' plans do not fit in memory
                    compiled, check, call = engine_run(backend, nets[(model, alpha)], x)
                    checked.setdefault(c, (check, compiled.graph_macs))
                    t = measure(call, 5, min_time, warmup=3)
                    del compiled, call
                times[c][which].append(t.median_s)
                spreads[c].append(t.cv)
                done += 1
                if progress:
                    progress(done, total)
    speed = {}
    if anchors:
        p = _predictor(machine, backend)
        for regime in (1, 32):
            ratios = [statistics.median(times[n][0] + times[n][1]) / p.predict(count_layers(
                n[0], n[1], n[2], DEFAULT_CLASSES, batch=n[3])) for n in anchors if (n[3] == 1) == (regime == 1)]
            if ratios:
                speed[regime] = statistics.median(ratios)
    out = []
    threads = torch.get_num_threads()
    for c in configs:
        model, alpha, res, batch = c
        a = analyze(model, alpha, res, DEFAULT_CLASSES, batch=batch)
        first, second = times[c]
        r = BenchRun(family_of(model).name, alpha, as_pair(res), batch, threads, backend,
                     "optimized" if backend == "torch" else backend, statistics.median(first), a.total.macs,
                     spread=statistics.median(spreads[c]), remeasured_s=statistics.median(second))
        if c in checked:
            r.check, r.graph_macs = checked[c]
        _predictions(r, a, machine)
        factor = speed.get(1 if batch == 1 else 32)
        if r.predicted_s is not None and factor is not None:
            r.predicted_raw_s, r.predicted_s, r.speed_factor = r.predicted_s, r.predicted_s * factor, factor
        out.append(r)
    return out


def _predictor(machine: MachineProfile, backend: str):
    from ..latency import predictor_for
    return predictor_for(machine, backend, required=False)

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
from ..timing import median_seconds
from .calibrate import GRID
from ..scaling import as_pair
from ..scaling import DEFAULT_RESOLUTION

BACKENDS = ("torch", "onnxruntime")


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
    from .builders import build
    return build(model, alpha, num_classes).eval()


def prepared(net: torch.nn.Module, mode: str, compile: bool = False):
    from .optimize import optimize_for_inference
    if mode == "eager":
        return net.eval()
    return optimize_for_inference(net, compile=compile)


def time_torch(net, x: torch.Tensor, min_time: float = 0.5, min_reps: int = 5) -> float:
    with torch.inference_mode():
        return median_seconds(lambda: net(x), min_reps, min_time, warmup=3)


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
          min_time: float = 0.5, compile: bool = False, net: torch.nn.Module | None = None) -> BenchRun:
    """Measure one config (``net``: an already-loaded model, e.g. from a checkpoint)."""
    from ..conventions import analyze
    h, w = as_pair(resolution)
    a = analyze(model, alpha, (h, w), num_classes, batch=batch)
    net = net if net is not None else _eval_model(model, alpha, a.config["num_classes"])
    x = torch.randn(batch, 3, h, w)
    threads = torch.get_num_threads()
    if backend == "onnxruntime":
        if per_layer:
            raise LatencyError("--per-layer times the torch model's modules; use it without --backend onnxruntime")
        measured, mode = time_onnx(onnx_session(net, (h, w), threads), x, min_time), "onnxruntime"
    else:
        mode = "eager" if eager else "optimized"
        run = prepared(net, mode, compile)
        measured = time_torch(run, x, min_time)
    name = model_name(model)
    res = BenchRun(name, alpha, (h, w), batch, threads, backend, mode, measured, a.total.macs or 0,
                 num_classes=a.config["num_classes"])
    if machine is not None:
        rows = _predictions(res, a, machine)
        if per_layer:
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
    if backend == "onnxruntime":
        if per_layer:
            raise LatencyError("--per-layer times the torch model's modules; use it without --backend onnxruntime")
        measured, mode = _time_module_onnx(net, specs, xs, threads, min_time), "onnxruntime"
    else:
        with torch.inference_mode():
            measured = median_seconds(lambda: net(*xs), 5, min_time, warmup=3)
        mode = "eager"
    res = BenchRun(name, None, None, specs[0].shape[0], threads, backend, mode, measured, a.total.macs or 0,
                   inputs=specs)
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


def _time_module_onnx(net, specs, xs, threads: int, min_time: float) -> float:
    from .onnx_export import export_module
    session = onnx_session(net, None, threads, write=lambda path: export_module(net, specs, path))
    feed = {i.name: x.numpy() for i, x in zip(session.get_inputs(), xs)}
    return median_seconds(lambda: session.run(None, feed), 5, min_time, warmup=3)


def _predictions(res: BenchRun, a, machine: MachineProfile):
    """Set ``res``'s whole-model roofline and calibrated prediction; return the per-layer times."""
    rows = layer_times(a, machine)
    res.roofline_s = sum(r.roofline_s for r in rows)
    if machine.calibration:
        res.predicted_s = predict(a, machine)
    return rows


def grid(machine: MachineProfile, batches=(1, 32), progress=None, rounds: int = 3, min_time: float = 0.15,
         models=None) -> list[BenchRun]:
    """Every config of the grid (``models``, by default V1 and V2, over sweep's default alphas and
    resolutions) at each batch: measured (the optimized model) and predicted. The configs are
    timed in ``rounds`` interleaved sweeps, each a median of repeats, and a config's time is the
    median over the sweeps: a slow spell of a shared machine then moves one sweep of many
    configs, not every repeat of one."""
    from ..conventions import analyze
    from .builders import build
    from .optimize import optimize_for_inference
    grid_configs = GRID if models is None else [(m, a, r) for m in models for a in GRID_ALPHAS
                                                for r in GRID_RESOLUTIONS]
    configs = [(m, a, r, b) for b in batches for m, a, r in grid_configs]
    nets, times = {}, {c: [] for c in configs}
    done, total = 0, len(configs) * rounds
    for _ in range(rounds):
        for c in configs:
            model, alpha, res, batch = c
            if (model, alpha) not in nets:
                nets[(model, alpha)] = optimize_for_inference(build(model, alpha, DEFAULT_CLASSES))
            x = torch.randn(batch, 3, res, res)
            times[c].append(time_torch(nets[(model, alpha)], x, min_time))
            done += 1
            if progress:
                progress(done, total)
    out = []
    threads = torch.get_num_threads()
    for model, alpha, res, batch in configs:
        a = analyze(model, alpha, res, DEFAULT_CLASSES, batch=batch)
        r = BenchRun(family_of(model).name, alpha, as_pair(res), batch, threads, "torch", "optimized",
                   statistics.median(times[(model, alpha, res, batch)]), a.total.macs)
        _predictions(r, a, machine)
        out.append(r)
    return out

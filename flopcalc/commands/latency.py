"""``flopcalc machine``, ``bench`` and ``export``: this machine measured, models timed and exported."""

from __future__ import annotations

import argparse
import sys

from ..errors import UsageError
from ..output import emit, render
from ..zoo import MODELS
from .args import (CHECKPOINT_HELP, ENGINE_CHOICES, MODEL_HELP, add_config_args, add_depth, add_format, argument,
                   add_machine_args, add_model, add_runtime_args, alpha_of, integer,
                   is_checkpoint, list_of, model_type, resolution_of)
from .runtime import progress_of, say_load, torch_door
from ..scaling import as_pair

ENGINE_EXTRAS = {"torch": "torch", "onnxruntime": "torch,onnx", "openvino": "torch,openvino",
                 "executorch": "torch,executorch", "ncnn": "torch,ncnn"}


def add_machine(sub) -> None:
    p = sub.add_parser("machine", help="measure this machine's matmul peak and bandwidth for latency prediction",
                       description="Measure this machine with torch: float32 matrix-multiply peak, copy bandwidth, "
                                   "and (unless --quick) the per-kind efficiency of depthwise, pointwise, standard "
                                   "convolutions, activations, adds, pooling and linear layers at many shapes. "
                                   "The profile is cached (see --show) so that bench, and flopcalc.latency in "
                                   "Python, predict latency without torch afterwards.")
    p.add_argument("--quick", action="store_true", help="peak and bandwidth only (a few seconds): the roofline, "
                                                        "no calibrated prediction")
    p.add_argument("--show", action="store_true", help="print the cached profile without measuring")
    p.add_argument("--backend", choices=ENGINE_CHOICES, default=None,
                   help="calibrate another engine (after a plain 'flopcalc machine'): off-grid networks converted "
                        "for it and timed, its model fitted; kept in the profile beside the others")
    add_machine_args(p)


def add_bench(sub) -> None:
    p = sub.add_parser("bench", help="measured images/s and per-layer latency beside the predicted",
                       description="Measure a model's speed (median of repeats after warm-up) beside the "
                                   "roofline max(2 macs / peak, bytes / bandwidth) and the calibrated prediction "
                                   "of flopcalc machine; per layer with --per-layer; the grid with --grid --predict.")
    add_model(p, optional=True, grid_help=" (with --grid: that model over the grid's alphas and resolutions; "
                                          "left out: V1 and V2)", sources=True, checkpoints=True)
    add_config_args(p, conventions=False)
    p.add_argument("--batch", type=list_of(integer("batch", 1), "--batch"), default=None, metavar="N[,N]",
                   help="images per forward pass (default 1; with --grid: 1,32)")
    p.add_argument("--per-layer", action="store_true", help="time every layer inside the model; rank correlation "
                                                            "of predicted and measured layer times")
    p.add_argument("--top", type=integer("top", 1), default=5, metavar="K",
                   help="with --per-layer: the K layers where prediction and measurement differ most (default 5)")
    p.add_argument("--backend", choices=ENGINE_CHOICES, default="torch",
                   help="torch (default), onnxruntime, openvino, executorch (XNNPACK) or ncnn: the model converted "
                        "(cached) and its outputs checked against torch's; each engine is an extra")
    p.add_argument("--dtype", choices=("float32", "int8"), default="float32",
                   help="int8: post-training static quantization on random calibration images (for speed; "
                        "'flopcalc experiment backends' measures accuracy on the digits)")
    p.add_argument("--eager", action="store_true", help="the plain eager model, not optimize_for_inference's")
    p.add_argument("--compare", action="store_true", help="eager, optimized and every installed engine side by "
                                                          "side")
    p.add_argument("--compile", action="store_true", help="add torch.compile to the optimized model (needs a C++ "
                                                          "compiler; slow to start)")
    p.add_argument("--default-allocator", action="store_true",
                   help="leave glibc's allocator as it is (by default bench keeps freed memory for reuse, so big "
                        "activations are not page-faulted in on every forward pass)")
    p.add_argument("--grid", action="store_true", help="every config of the verify grid (V1, V2 x 5 alphas x 5 "
                                                       "resolutions) at each --batch")
    p.add_argument("--predict", action="store_true", help="with --grid: measured twice beside predicted, and the "
                                                          "share within 15%% of each")
    add_machine_args(p)


def add_export(sub) -> None:
    p = sub.add_parser("export", help="write a model or checkpoint as ONNX",
                       description="Write a zoo model, spec file or checkpoint as an ONNX file (opset 17, batch "
                                   "norm folded into the convs), and check that its Conv, Gemm and MatMul nodes carry "
                                   "exactly the analyzer's macs.")
    p.add_argument("model", metavar="MODEL|CHECKPOINT",
                   help=MODEL_HELP + CHECKPOINT_HELP)
    add_depth(p)
    add_config_args(p, conventions=False)
    p.add_argument("--onnx", required=True, metavar="FILE", help="the ONNX file to write")
    p.add_argument("--batch", type=integer("batch", 1), default=None, metavar="N",
                   help="a fixed batch of N (default: a dynamic batch dimension)")
    p.add_argument("--input", type=argument("input_spec"), action="append", default=None, metavar="SHAPE",
                   help="a module source's input, batch first (default: the input_size it declares, as timm's "
                   "models do, else 1x3x224x224; repeat for several)")
    p.add_argument("--model-arg", type=argument("model_arg"), action="append", default=[], metavar="KEY=VALUE",
                   help="a keyword argument for a module source's builder (repeatable)")
    add_runtime_args(p, progress=False)
    add_format(p)



def _bench_batches(args: argparse.Namespace) -> list[int]:
    """The batches bench times; a combination of options that cannot run is a UsageError."""
    if args.grid and (args.alpha is not None or args.resolution is not None or args.rho is not None):
        raise UsageError("flopcalc bench: error: --grid times the grid's own alphas and resolutions; leave out "
                         "--alpha, --resolution and --rho (or leave out --grid to time one config)")
    if not args.grid and args.model is None:
        raise UsageError("flopcalc bench: error: MODEL is required unless --grid is given "
                         f"(one of: {', '.join(MODELS)})")
    batches = args.batch or ([1, 32] if args.grid else [1])
    if not args.grid and len(batches) > 1:
        raise UsageError("flopcalc bench: error: one --batch without --grid")
    return batches


def run_latency(args: argparse.Namespace) -> int:
    from ..latency import LatencyError, load_machine, save_machine
    from ..views.latency import bench_document, bench_grid_document, machine_document
    if args.command == "machine" and args.show:
        machine = load_machine(args.profile)
        emit(render(machine_document(machine, args.profile or str(_cache())), args.format))
        return 0
    backend = getattr(args, "backend", None) or "torch"
    if args.command == "bench":  # a command line that cannot run is refused before torch is imported
        _bench_batches(args)
        if args.grid and args.predict:
            from ..latency import predictor_for
            predictor_for(load_machine(args.profile), backend)  # predicting needs a profile: say so now
        if args.dtype == "int8" and backend == "ncnn":
            raise UsageError("flopcalc bench: error: --dtype int8 runs on torch, onnxruntime, openvino and "
                             "executorch; ncnn's int8 tools are not in its wheel")
        if args.compare and (args.backend != "torch" or args.dtype != "float32"):
            raise UsageError("flopcalc bench: error: --compare runs every engine in float32; leave out --backend "
                             "and --dtype")
        if args.grid and args.dtype != "float32":
            raise UsageError("flopcalc bench: error: --grid times float32 (the calibrated dtype); leave out --dtype")
    if args.command == "machine" and backend != "torch":
        from ..latency import predictor_for
        predictor_for(load_machine(args.profile), "torch")  # the engine's fit re-weights torch's
    extras = "torch,onnx" if args.command == "export" else ENGINE_EXTRAS[backend]
    args.threads = torch_door(args, extras)
    if backend != "torch":
        from ..nn.engines import require
        require(backend)
    if not getattr(args, "default_allocator", False):
        from ..nn.runtime import keep_freed_memory
        keep_freed_memory()
    if args.command == "export":
        return _export(args)
    from ..cpuload import LoadMeter
    if args.command == "machine" and backend != "torch":
        return _machine_engine(args, backend)
    if args.command == "machine":
        from ..nn import calibrate
        meter = LoadMeter()
        with progress_of(args) as progress:
            m = calibrate.quick(args.threads) if args.quick else calibrate.calibrate(args.threads, progress=progress)
        load = say_load(meter, args.command)
        path = save_machine(m, args.profile)
        emit(render(machine_document(m, str(path), load), args.format))
        return 0
    from ..nn import bench
    batches = _bench_batches(args)
    try:
        machine = load_machine(args.profile)
    except LatencyError:
        if args.grid and args.predict:
            raise
        from ..nn.calibrate import quick
        machine = quick()
        sys.stderr.write("flopcalc bench: no machine profile; measured peak and bandwidth now (roofline only). "
                         "Run 'flopcalc machine' once for predicted times.\n")
    meter = LoadMeter()
    from ..family import Family
    if args.model is not None and not isinstance(args.model, (str, Family)):
        return _bench_module(args, machine, meter)
    if is_checkpoint(args.model):
        if args.grid:
            raise UsageError("flopcalc bench: error: --grid times zoo models; give a zoo name or a spec file")
        return _bench_checkpoint(args, machine, meter, batches[0])
    if args.input or args.model_arg:
        raise UsageError("flopcalc bench: error: --input and --model-arg are for a recorded module "
                         "(torchvision:NAME, module:callable, file.py:callable)")
    if args.grid:
        with progress_of(args, "bench --grid") as progress:
            results = bench.grid(machine, batches, progress, models=[args.model] if args.model else None,
                                 backend=args.backend)
        load = say_load(meter, args.command)
        emit(render(bench_grid_document(results, machine, args.predict, load), args.format))
        return 0
    res = as_pair(resolution_of(args))
    common = dict(num_classes=args.classes, machine=machine, compile=args.compile)
    if args.compare:
        plans = [dict(eager=True), dict(per_layer=args.per_layer)] + [dict(backend=b) for b in _installed()]
    else:
        plans = [dict(backend=args.backend, eager=args.eager, per_layer=args.per_layer, dtype=args.dtype)]
    runs = []
    with progress_of(args, "bench", len(plans)) as progress:
        for plan in plans:
            runs.append(bench.bench(args.model, alpha_of(args), res, batches[0], **plan, **common))
            progress.advance()
    load = say_load(meter, args.command)
    emit(render(bench_document(runs, machine, args.top, load), args.format))
    return 0


def _bench_checkpoint(args: argparse.Namespace, machine, meter, batch: int) -> int:
    """A checkpoint's model (its weights, its config) timed as a zoo model is, on any engine."""
    from ..nn import bench
    from ..nn.load import load_model
    from ..views.latency import bench_document
    if args.input or args.model_arg or args.compile:
        raise UsageError("flopcalc bench: error: --input, --model-arg and --compile are not for a checkpoint")
    loaded = load_model(args.model, args.alpha, resolution_of(args) if (args.resolution or args.rho) else None,
                        args.classes, batch)
    a = loaded.analysis
    plans = ([dict(eager=True), dict(per_layer=args.per_layer)] + [dict(backend=b) for b in _installed()]
             if args.compare else [dict(backend=args.backend, eager=args.eager, per_layer=args.per_layer,
                                        dtype=args.dtype)])
    runs = [bench.bench(loaded.source, a.config["alpha"], tuple(a.config["resolution"]), batch,
                        num_classes=a.config["num_classes"], machine=machine, net=loaded.net, analysis=a,
                        name=loaded.source, **plan) for plan in plans]
    load = say_load(meter, args.command)
    emit(render(bench_document(runs, machine, args.top, load), args.format))
    return 0


def _installed() -> list[str]:
    """The engines besides torch whose packages import here (--compare runs each; a note names the rest)."""
    from ..nn.engines import ENGINES, EngineError, require
    out, missing = [], []
    for b in ENGINES[1:]:
        try:
            require(b)
            out.append(b)
        except EngineError:
            missing.append(b)
    if missing:
        sys.stderr.write(f"flopcalc bench: --compare leaves out {', '.join(missing)} (not installed)\n")
    return out


def _machine_engine(args: argparse.Namespace, backend: str) -> int:
    """``machine --backend B``: B's model fitted and kept in the profile beside torch's and the others'."""
    from ..cpuload import LoadMeter
    from ..latency import load_machine, save_machine
    from ..nn import calibrate
    from ..views.latency import machine_document
    machine = load_machine(args.profile)
    meter = LoadMeter()
    with progress_of(args, f"machine --backend {backend}") as progress:
        entry = calibrate.calibrate_engine(machine, backend, progress=progress)
    load = say_load(meter, args.command)
    machine.calibration.setdefault("engines", {})[backend] = entry
    path = save_machine(machine, args.profile)
    emit(render(machine_document(machine, str(path), load), args.format))
    return 0


def _bench_module(args: argparse.Namespace, machine, meter) -> int:
    """A module source timed as it is (eager, or ONNX Runtime on it exported) beside its rows' roofline."""
    from dataclasses import replace
    from ..nn import bench
    from ..nn.load import analyze_recorded, declared_input, load_module
    from ..views.latency import bench_document
    for flag, value in (("--grid", args.grid), ("--compile", args.compile), ("--eager", args.eager),
                        ("--alpha", args.alpha), ("--resolution", args.resolution), ("--rho", args.rho),
                        ("--classes", args.classes)):
        if value:
            raise UsageError(f"flopcalc bench: error: {flag} is for a zoo model; a module source is timed as it is "
                             "(eager, or --backend onnxruntime), on --input")
    if args.batch and args.input:
        raise UsageError("flopcalc bench: error: --batch with --input: give the batch as --input's first dimension")
    args.batch = args.batch[0] if args.batch else 1
    if args.model.kind == "onnx":
        raise UsageError("flopcalc bench: error: an ONNX file is timed by onnxruntime directly, not by flopcalc")
    net = load_module(replace(args.model, kwargs=dict(args.model_arg)), meta=False)
    inputs = tuple(args.input) if args.input else declared_input(net, args.batch)
    a = analyze_recorded(net, inputs)
    backends = ["torch", "onnxruntime"] if args.compare else [args.backend]
    runs = [bench.bench_module(net, a, inputs, args.model.name, machine=machine, backend=b,
                               per_layer=args.per_layer and b == "torch") for b in backends]
    load = say_load(meter, args.command)
    emit(render(bench_document(runs, machine, args.top, load), args.format))
    return 1 if args.strict and a.uncounted else 0


def _cache():
    from ..latency import cache_path
    return cache_path()


def _export(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path
    from ..files import check_writable, file_target
    from ..nn.onnx_export import export, graph_macs
    from ..views.latency import export_document
    target = Path(args.onnx)
    check_writable(target)
    from ..sources import parse_source
    module_source = parse_source(args.model) if not args.model.lower().endswith(".onnx") else None
    if module_source is not None:
        return _export_module(args, module_source, target)
    if args.input or args.model_arg:
        raise UsageError("flopcalc export: error: --input and --model-arg are for a module source "
                         "(torchvision:NAME, module:callable, file.py:callable)")
    from ..nn.load import is_model, load_model
    if is_model(args.model):
        model_type(args.model)  # a bad spec file is one line naming it
    loaded = load_model(args.model, args.alpha, resolution_of(args) if (args.resolution or args.rho) else None,
                  args.classes, args.batch or 1)
    a, net, source = loaded.analysis, loaded.net, loaded.source
    h, w = a.config["resolution"]
    with file_target(target) as tmp:
        export(net, (h, w), tmp, dynamic_batch=args.batch is None, batch=args.batch or 1)
        graph = graph_macs(tmp, args.batch or 1)
        size = os.path.getsize(tmp)
    doc = export_document(source, a, target, size, graph, a.total.macs, args.batch)
    emit(render(doc, args.format))
    return 0 if doc.data["equal"] else 1



def _export_module(args: argparse.Namespace, source, target) -> int:
    """A module source written as ONNX, and the file counted by flopcalc's ONNX reader: its
    multiply-adds, node by node, must add up to the module's recorded count."""
    import os
    from dataclasses import replace
    from ..files import file_target
    from ..nn.load import analyze_recorded, declared_input, load_module
    from ..nn.onnx_export import export_module
    from ..nn.onnx_record import record_onnx
    from ..views.latency import export_document
    given = [f for f, v in (("--alpha", args.alpha), ("--resolution", args.resolution), ("--rho", args.rho),
                            ("--classes", args.classes)) if v]
    if given:
        raise UsageError(f"flopcalc export: error: {', '.join(given)} describe a zoo model; a module source is "
                         "built by its own code: give --input and --model-arg instead")
    if args.input and args.batch:
        raise UsageError("flopcalc export: error: --batch with --input: give the batch as --input's first dimension")
    net = load_module(replace(source, kwargs=dict(args.model_arg)), meta=False)
    inputs = tuple(args.input) if args.input else declared_input(net, args.batch or 1)
    a = analyze_recorded(net, inputs)
    with file_target(target) as tmp:
        export_module(net, inputs, tmp, dynamic_batch=args.batch is None and not args.input)
        onnx_rows = record_onnx(tmp, [i.shape for i in inputs]).analysis()
        size = os.path.getsize(tmp)
    graph = {r.name: r.macs for r in onnx_rows.layers if r.macs}
    doc = export_document(source.name, a, target, size, graph, a.total.macs, args.batch)
    emit(render(doc, args.format))
    return 0 if doc.data["equal"] else 1


PARSERS = {"machine": add_machine, "bench": add_bench, "export": add_export}
RUNS = {"machine": run_latency, "bench": run_latency, "export": run_latency}

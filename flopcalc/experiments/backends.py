"""``flopcalc experiment backends``: the depthwise experiment the MobileNet material leaves to the reader
("benchmark on each target"): the same networks on every installed engine, float32 and int8.

For each model (V1, V2, V3-Large, V3-Small at width 1.0 and 224 pixels, or those given), engine and dtype,
at batch 1 and 32:

- whole-model images/s (median of repeats after warm-up) and the spread of the repeats (coefficient of
  variation), and the fraction of the machine's measured matmul peak it reaches;
- where the engine times its layers (torch, OpenVINO, ONNX Runtime): the share of time of each kind of layer
  beside its share of the multiply-adds, and the depthwise layers' achieved GFLOP/s and GB/s against the
  machine's peak and bandwidth;
- the engine's outputs checked against torch's (float32: equal within tolerance; int8: top class agreement).

Then accuracy: V2 (alpha 0.5) trained on the digits, run by each engine in float32 and int8 (calibrated on
training images): top-1 on the held-out digits beside torch's float32.

``DIR/results.jsonl`` gets a line per measurement, written as each finishes: run again with the same
``--out`` and it goes on where it stopped. ``DIR/README.md`` has the tables, ``DIR/throughput.png`` and
``DIR/time_vs_macs.png`` the plots.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..errors import UserError
from ..files import remove_stale_temporaries, write_text
from .runner import load_results

from ..views.backends import MODELS
BATCHES = (1, 32)
RESOLUTION = 224
KINDS = ("conv", "depthwise", "pointwise", "linear", "activation", "add", "pool", "scale")
DIGITS_MODEL, DIGITS_ALPHA = "mobilenet_v2", 0.5


class BackendsError(UserError):
    pass


def installed(wanted=None) -> list[str]:
    """The engines to run: ``wanted`` (each must be installed: one line naming its extra otherwise), or every
    installed one."""
    from ..nn.engines import ENGINES, EngineError, require
    if wanted:
        for e in wanted:
            if e not in ENGINES:
                raise BackendsError(f"unknown engine {e!r}; known: {', '.join(ENGINES)}")
            require(e)
        return list(wanted)
    out = []
    for e in ENGINES:
        try:
            require(e)
            out.append(e)
        except EngineError:
            pass
    return out


def _plan(models, engines_, batches=BATCHES) -> list[tuple[str, str, str, int]]:
    from ..nn.engines import INT8
    return [(m, e, d, b) for m in models for b in batches for e in engines_
            for d in ("float32", "int8") if d == "float32" or e in INT8]


def _kinds(rows, seconds: dict[str, float]) -> dict[str, dict]:
    """Per kind: multiply-adds, and measured seconds where the engine timed the layers."""
    out: dict[str, dict] = {}
    for r in rows:
        k = out.setdefault(r.kind, {"macs": 0, "seconds": 0.0, "bytes": 0, "layers": 0})
        k["macs"] += r.macs or 0
        k["layers"] += 1
        k["seconds"] += seconds.get(r.name, 0.0)
    return out


def measure_one(model: str, engine: str, dtype: str, batch: int, machine, min_time: float = 1.0,
                resolution: int = RESOLUTION) -> dict:
    """One row of the experiment (see the module docstring)."""
    import torch
    from ..conventions import analyze
    from ..memory import memory
    from ..nn.bench import per_layer_seconds
    from ..nn.engines import engine_layer_seconds
    from ..nn.engines import engine_run, seeded_build, version
    from ..timing import measure
    a = analyze(model, 1.0, resolution, 1000, batch=batch)
    net = seeded_build(model, 1.0, 1000)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, resolution, resolution, generator=g)
    calibration = [torch.randn(batch, 3, resolution, resolution, generator=g) for _ in range(2)] \
        if dtype == "int8" else None
    compiled, check, call = engine_run(engine, net, x, dtype, calibration)
    t = measure(call, 5, min_time, warmup=3)
    rec = {"model": model, "alpha": 1.0, "resolution": resolution, "engine": engine, "version": version(engine),
           "dtype": dtype, "batch": batch, "macs": a.total.macs, "graph_macs": compiled.graph_macs,
           "ms": t.median_s * 1e3, "spread": t.cv, "repeats": t.repeats, "images_per_second": batch / t.median_s,
           "fraction_of_peak": 2 * a.total.macs / t.median_s / machine.peak_flops, "check": check,
           "converted_s": None if compiled.cached else compiled.convert_s}
    seconds = None
    rows = [(r.name, r.kind) for r in a.layers]
    if compiled.layer_seconds is not None:
        seconds = engine_layer_seconds(compiled, x, rows)
    elif engine == "torch" and dtype == "float32":
        from ..nn.optimize import optimize_for_inference
        seconds = per_layer_seconds(optimize_for_inference(net), x)
    if seconds:
        kinds = _kinds(a.layers, seconds)
        traffic = {m.name: m.bytes for m in memory(a, dtype).layers}
        for r in a.layers:
            kinds[r.kind]["bytes"] += traffic[r.name]
        total_s, total_macs = sum(k["seconds"] for k in kinds.values()), a.total.macs
        rec["kinds"] = {k: {"layers": v["layers"], "macs": v["macs"], "ms": v["seconds"] * 1e3,
                            "share_of_time": v["seconds"] / total_s if total_s else None,
                            "share_of_macs": v["macs"] / total_macs} for k, v in kinds.items()
                        if k not in ("batchnorm", "dropout", "flatten")}
        dw = kinds.get("depthwise")
        if dw and dw["seconds"] > 0:
            rec["depthwise"] = {"gflops": 2 * dw["macs"] / dw["seconds"] / 1e9,
                                "fraction_of_peak": 2 * dw["macs"] / dw["seconds"] / machine.peak_flops,
                                "gbs": dw["bytes"] / dw["seconds"] / 1e9,
                                "fraction_of_bandwidth": dw["bytes"] / dw["seconds"] / machine.bandwidth}
    return rec


def _measure_group(model: str, engine: str, rows, machine, min_time: float, resolution: int,
                   threads: int | None) -> list[dict]:
    """In a fresh process: ``model``'s rows (dtype, batch) on ``engine``."""
    import warnings
    warnings.simplefilter("ignore")
    from ..nn.runtime import keep_freed_memory, set_threads
    set_threads(threads)
    keep_freed_memory()
    return [measure_one(model, engine, d, b, machine, min_time, resolution) for d, b in rows]


def digits_accuracy(out: Path, engines_, done: dict, write, epochs: int, subset, progress, threads, log) -> None:
    """V2 trained on the digits (once, resumable), then each engine's float32 and int8 top-1 on the held-out
    digits. int8 is calibrated on 2 batches of training images of the test set's size."""
    import torch
    from torch.utils.data import DataLoader
    from ..nn.engines import engine_run, version
    from ..training import checkpoint as ckpt
    from ..training.checkpoint import model_from_checkpoint
    from ..training.data import open_source
    from ..training.loop import Recipe, RunConfig, train
    from ..nn.engines import INT8
    todo = [(e, d) for e in engines_ for d in ("float32", "int8") if (d == "float32" or e in INT8)
            and f"digits|{e}|{d}" not in done]
    if not todo:
        return
    run_dir = out / "runs" / "digits-mobilenet_v2-0.5"
    train(RunConfig(DIGITS_MODEL, "digits", str(run_dir), DIGITS_ALPHA, None, None, Recipe(epochs=epochs, seed=0),
                    resume=True, subset=subset, progress=progress, threads=threads))
    doc = ckpt.load(run_dir / "checkpoint.pt")
    net = model_from_checkpoint(run_dir / "checkpoint.pt", doc).eval()
    source = open_source("digits", subset)
    train_set, test_set = source.with_transforms(doc["config"]["resolution"])
    x = torch.cat([b for b, _ in DataLoader(test_set, batch_size=512)])
    y = torch.cat([t for _, t in DataLoader(test_set, batch_size=512)])
    g = torch.Generator().manual_seed(0)
    calib_all = torch.cat([b for b, _ in DataLoader(train_set, batch_size=512, shuffle=True, generator=g)])
    calibration = [calib_all[i * len(x):(i + 1) * len(x)] for i in range(2) if (i + 1) * len(x) <= len(calib_all)]
    with torch.inference_mode():
        ref = net(x)
    float_top1 = float((ref.argmax(1) == y).float().mean())
    for e, d in todo:
        compiled, check, _ = engine_run(e, net, x, d, calibration if d == "int8" else None)
        logits = torch.from_numpy(compiled.run(x.numpy()).reshape(ref.shape))
        top1 = float((logits.argmax(1) == y).float().mean())
        rec = {"key": f"digits|{e}|{d}", "kind": "digits", "engine": e, "version": version(e), "dtype": d,
               "model": DIGITS_MODEL, "alpha": DIGITS_ALPHA, "resolution": doc["config"]["resolution"],
               "images": len(x), "top1": top1, "torch_float32_top1": float_top1, "drop": float_top1 - top1,
               "agreement": float((logits.argmax(1) == ref.argmax(1)).float().mean()),
               "max_logit_error": float((logits - ref).abs().max())}
        write(rec)
        print(f"digits: {e} {d}: top-1 {100 * top1:.2f}% (torch float32 {100 * float_top1:.2f}%)", file=log,
              flush=True)


def run(out: str | Path, *, models=MODELS, engines=None, epochs: int = 20, subset: int | None = None,
        min_time: float = 1.0, progress: bool | None = None, threads: int | None = None, log=None,
        resolution: int = RESOLUTION, batches=BATCHES) -> tuple[dict, int]:
    """Run (or finish) the experiment; its summary and how many rows this run measured (``resolution`` and
    ``batches``: smaller for a quick trial)."""
    log = log or sys.stderr
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BackendsError(f"--out {str(out)!r} is a file, not a folder")
    engines_ = installed(engines)
    out.mkdir(parents=True, exist_ok=True)
    for written in ("results.jsonl", "README.md", "throughput.png", "time_vs_macs.png"):
        remove_stale_temporaries(out / written)
    from ..latency import LatencyError, load_machine
    try:
        machine = load_machine()
    except LatencyError:
        from ..nn.calibrate import quick
        machine = quick()
        print("backends: no machine profile; measured the matmul peak and bandwidth now", file=log)
    results_path = out / "results.jsonl"
    done = load_results(results_path, "key")

    def write(rec):
        done[rec["key"]] = rec
        write_text(results_path, "".join(json.dumps(done[k]) + "\n" for k in done))

    plan = [(m, e, d, b) for m, e, d, b in _plan(models, engines_, batches) if f"{m}|{e}|{d}|b{b}" not in done]
    measured = 0
    # each (model, engine) in a fresh process: an engine's thread pools (OpenMP, TBB, XNNPACK's) left
    # spinning in a process slow down the next engine timed in it
    groups = list(dict.fromkeys((m, e) for m, e, _, _ in plan))
    import multiprocessing
    ctx = multiprocessing.get_context("spawn")
    for i, (m, e) in enumerate(groups, 1):
        rows = [(d, b) for m2, e2, d, b in plan if (m2, e2) == (m, e)]
        t0 = time.perf_counter()
        with ctx.Pool(1) as pool:
            recs = pool.apply(_measure_group, (m, e, rows, machine, min_time, resolution, threads))
            pool.close()  # let the worker exit by itself (leaving the block would kill it, and its
            pool.join()   # semaphores would be reported leaked at shutdown)
        for (d, b), rec in zip(rows, recs):
            write(dict(rec, key=f"{m}|{e}|{d}|b{b}", kind="speed", peak_gflops=machine.peak_flops / 1e9,
                       bandwidth_gbs=machine.bandwidth / 1e9))
            measured += 1
        print(f"[{i}/{len(groups)}] {m} on {e}: " + ", ".join(
            f"{d} b{b} {r['images_per_second']:.1f} images/s (spread {100 * r['spread']:.1f}%)"
            for (d, b), r in zip(rows, recs)) + f" ({time.perf_counter() - t0:.0f} s)", file=log, flush=True)
    digits_accuracy(out, engines_, done, write, epochs, subset, progress, threads, log)
    from ..views.backends import summarize
    summary = summarize([done[k] for k in done], models, engines_)
    write_outputs(out, summary)
    return summary, measured


def write_outputs(out: Path, summary: dict) -> None:
    from ..output import render
    from ..views.backends import backends_document
    doc = backends_document(summary)
    text = f"# {doc.heading}\n\n" + render(doc, "github", heading=False)
    text += ("\nMade by `flopcalc experiment backends --out DIR` (resumable: each row is written to "
             "`results.jsonl` as it is measured).\n\n"
             "![images/s per engine](throughput.png)\n\n*Images/s of each model on each engine, float32 and int8, "
             "batch 1 and 32.*\n\n![share of time against share of MAdds](time_vs_macs.png)\n\n*Each kind of "
             "layer's share of the time against its share of the multiply-adds, on the engines that time their "
             "layers.*\n")
    write_text(out / "README.md", text)
    try:
        from ..plots import engine_throughput, time_vs_macs
        engine_throughput(summary["speed"], out / "throughput.png")
        if summary["kinds_of"]:
            time_vs_macs(summary["speed"], out / "time_vs_macs.png", summary["kinds_of"]["model"],
                         summary["kinds_of"]["batch"])
    except UserError as e:  # matplotlib missing: the tables still stand
        print(f"flopcalc: {e}; no plots", file=sys.stderr)

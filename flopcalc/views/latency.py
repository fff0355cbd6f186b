"""``machine``, ``bench`` (one config and the grid) and ``export`` as Documents."""

from __future__ import annotations

import math

from ..output import Col, Document, Table, percent
from .records import config_record, flat, ms


def machine_summary(m) -> dict:
    return {"peak_gflops": m.peak_flops / 1e9, "bandwidth_gbs": m.bandwidth / 1e9, "threads": m.threads,
            "calibrated": bool(m.calibration)}


def load_note(load) -> str:
    """Other processes' load around a timing, in one line."""
    def cores(v):
        return "unknown" if v is None else f"{v:.1f}"
    verdict = {True: "BUSY: slower than this machine can do", False: "quiet", None: "unknown"}[load.busy]
    return (f"load of other processes (CPUs of {load.cpus}): before {cores(load.before)}, during "
            f"{cores(load.during)}, after {cores(load.after)}: {verdict}")


def machine_document(m, path: str, load=None) -> Document:
    rows = [{"measure": "float32 matmul peak", "value": f"{m.peak_flops / 1e9:.1f} GFLOP/s"},
            {"measure": "copy bandwidth (read + write)", "value": f"{m.bandwidth / 1e9:.1f} GB/s"},
            {"measure": "ridge point (macs per byte)", "value": f"{m.peak_flops / 2 / m.bandwidth:.1f}"},
            {"measure": "threads", "value": str(m.threads)},
            {"measure": "measured in", "value": f"{m.seconds:.0f} s"}]
    tables = [Table([Col("measure"), Col("value")], rows)]
    notes = [f"profile: {path}"]
    if m.calibration:
        fit = m.fit
        residual = fit.get("kernel_residual", {})
        krows = [{"kind": k, "median_error": v, "fit_residual": residual.get(k)}
                 for k, v in fit.get("kernel_median_error", {}).items()]
        tables.append(Table([Col("kind"), Col("median_error", "pct"), Col("fit_residual", "pct")], krows,
                            title="per-kind model: median |error| on its own samples, and the least-squares fit's "
                                  "residual (root mean square relative error, SciPy's nnls)"))
        notes.append(f"calibrated on {fit.get('kernel_samples')} random layers and {fit.get('networks')} off-grid "
                     f"networks (median |error| {100 * fit.get('network_median_error', 0):.1f}% on those networks"
                     + (f"; in-network fit residual {100 * fit['network_residual']:.1f}%)" if "network_residual" in fit
                        else ")"))
    else:
        notes.append("roofline only (--quick): run 'flopcalc machine' without --quick for predicted times")
    data = {"profile": path, **machine_summary(m), "torch": m.torch, "seconds": m.seconds, "fit": m.fit}
    if load is not None:
        data["load"] = load.to_json()
        notes.append(load_note(load))
    return Document("machine", data, "this machine, measured", tables, notes)


def fraction_of_peak(r, machine) -> float:
    """A run's achieved FLOP/s (2 per multiply-add) over the machine's measured matmul peak."""
    return 2 * r.macs / r.measured_s / machine.peak_flops


def bench_document(runs, machine, top: int = 5, load=None) -> Document:
    main = next((r for r in runs if r.mode == "optimized"), runs[0])
    eager = next((r for r in runs if r.mode == "eager"), None)
    run_rows = [{"backend": r.backend, "mode": r.mode, "measured_ms": ms(r.measured_s),
                 "images_per_second": r.images_per_second, "fraction_of_peak": fraction_of_peak(r, machine),
                 "speedup": eager.measured_s / r.measured_s if eager else None} for r in runs]
    layers = [{"name": x["name"], "kind": x["kind"], "macs": x["macs"], "bytes": x["bytes"], "bound": x["bound"],
               "measured_ms": ms(x["measured_s"]), "roofline_ms": ms(x["roofline_s"]),
               "predicted_ms": ms(x["predicted_s"])} for x in main.layers]
    data = {"model": main.model, "config": main.config, "threads": main.threads,
            "machine": machine_summary(machine), "macs": main.macs,
            "measured_ms": ms(main.measured_s), "predicted_ms": ms(main.predicted_s),
            "roofline_ms": ms(main.roofline_s), "images_per_second": main.images_per_second,
            "fraction_of_peak": fraction_of_peak(main, machine), "rank_correlation": main.rank_correlation,
            "rank_correlation_calibrated": main.rank_correlation_calibrated, "runs": run_rows, "layers": layers}
    cols = [Col("backend"), Col("mode"), Col("measured_ms", "ms"),
            Col("images_per_second", "float", digits=1), Col("fraction_of_peak", "pct")]
    if eager:
        cols.append(Col("speedup", "float", digits=2, show=lambda v: f"{v:.2f}x"))
    tables = [Table(cols, run_rows)]
    if main.inputs is not None:
        what = f"{main.model} input {', '.join(map(str, main.inputs))}"
    else:
        h, w = main.resolution
        what = f"{main.model} alpha {main.alpha:g} at {h if h == w else f'{h}x{w}'}"
    heading = f"{what}, batch {main.batch}, {main.threads} threads: {main.images_per_second:,.1f} images/s"
    notes = [f"whole model: measured {ms(main.measured_s):.2f} ms"
             + (f", predicted {ms(main.predicted_s):.2f} ms ({100 * (main.predicted_s / main.measured_s - 1):+.1f}%)"
                if main.predicted_s else "")
             + (f", roofline {ms(main.roofline_s):.2f} ms" if main.roofline_s else "")
             + f"; {100 * fraction_of_peak(main, machine):.1f}% of this machine's matmul peak "
               f"({machine.peak_flops / 1e9:.0f} GFLOP/s)"]
    if layers:
        lay_cols = [Col("name"), Col("kind"), Col("macs", "int"), Col("bytes", "int"), Col("bound"),
                    Col("measured_ms", "ms", digits=3), Col("predicted_ms", "ms", digits=3),
                    Col("roofline_ms", "ms", digits=3)]
        tables.append(Table(lay_cols, layers, title="per layer"))
        key = "predicted_ms" if main.rank_correlation_calibrated is not None else "roofline_ms"
        worst = sorted(layers, key=lambda x: -abs(math.log(x[key] / x["measured_ms"])))[:top]
        tables.append(Table([Col("name"), Col("kind"), Col("measured_ms", "ms", digits=3),
                             Col(key, "float", digits=3)], worst,
                            title=f"where {key.split('_')[0]} and measured differ most"))
        notes.append(f"rank correlation (Spearman) of per-layer times: roofline {main.rank_correlation:.3f}"
                     + (f", calibrated prediction {main.rank_correlation_calibrated:.3f}"
                        if main.rank_correlation_calibrated is not None else ""))
    if load is not None:
        data["load"] = load.to_json()
        notes.append(load_note(load))
    return Document("bench", data, heading, tables, notes)


def grid_summary(results) -> list[dict]:
    out = []
    for batch in sorted({r.batch for r in results}):
        errs = [r.predicted_s / r.measured_s - 1 for r in results if r.batch == batch and r.predicted_s]
        if errs:
            errs_abs = sorted(abs(e) for e in errs)
            out.append({"batch": batch, "configs": len(errs), "within_15": sum(e <= 0.15 for e in errs_abs) / len(errs),
                        "median_abs_error": errs_abs[len(errs_abs) // 2], "max_abs_error": errs_abs[-1]})
    return out


GRID_SUMMARY_COLS = (Col("batch", "int"), Col("configs", "int"), Col("within_15", "pct"),
                     Col("median_abs_error", "pct"), Col("max_abs_error", "pct"))


def bench_grid_cols(predicted: bool = True) -> list[Col]:
    """The columns of the timed grid, one config a row (flattened records of ``bench --grid``)."""
    cols = [Col("model"), Col("alpha", "multiplier"), Col("resolution", "resolution"),
            Col("batch", "int"), Col("measured_ms", "ms")]
    if predicted:
        cols += [Col("predicted_ms", "ms"), Col("error", show=lambda v: percent(v, 1, signed=True))]
    return cols + [Col("images_per_second", "float", digits=1)]


def bench_grid_document(results, machine, predicted: bool = True, load=None) -> Document:
    recs = [{"model": r.model, "config": r.config,
             "measured_ms": ms(r.measured_s), "predicted_ms": ms(r.predicted_s) if predicted else None,
             "error": (r.predicted_s / r.measured_s - 1) if predicted and r.predicted_s else None,
             "images_per_second": r.images_per_second} for r in results]
    rows = [flat(rec) for rec in recs]
    summary = grid_summary(results) if predicted else []
    tables = [Table(bench_grid_cols(predicted), rows)]
    if summary:
        tables.append(Table(GRID_SUMMARY_COLS, summary, title="predicted against measured, whole model"))
    data = {"machine": machine_summary(machine), "threads": results[0].threads if results else None,
            "configs": recs, "summary": summary}
    notes = ["measured: the optimized model (batch norm folded, channels-last), median of repeats; "
             "predicted: from the machine profile alone, without running the model"]
    if load is not None:
        data["load"] = load.to_json()
        notes.append(load_note(load))
    return Document("bench", data, f"the verify grid on this machine ({machine.describe()})", tables, notes)


def export_document(source: str, a, path, size: int, graph: dict, expected_macs: int, batch) -> Document:
    recorded = "alpha" not in a.config  # a module source: its graph counted by flopcalc's ONNX reader
    total = sum(graph.values())
    data = {"model": source, "config": {**config_record(a.config), "batch": batch}, "onnx": str(path),
            "bytes": size, "opset": 17, "nodes": len(graph),
            "graph_macs": total, "macs": expected_macs, "equal": total == expected_macs}
    nodes = "nodes with multiply-adds" if recorded else "Conv, Gemm and MatMul nodes"
    rows = [{"check": nodes, "value": f"{len(graph)}"},
            {"check": "macs from the graph's own shapes", "value": f"{total:,}"},
            {"check": "macs from the " + ("recorded module" if recorded else "analyzer"),
             "value": f"{expected_macs:,}"},
            {"check": "equal", "value": "yes" if total == expected_macs else "NO"}]
    if recorded:
        what = f"{source} input {' '.join(a.config.get('inputs', ['x'.join(map(str, a.config['input']))]))}"
    else:
        h, w = a.config["resolution"]
        res = str(h) if h == w else f"{h}x{w}"
        what = f"{source} alpha {a.config['alpha']:g} at {res}"
    heading = (f"wrote {path} ({data['bytes']:,} bytes, opset 17, batch {batch if batch else 'dynamic'}): {what}")
    return Document("export", data, heading, [Table([Col("check"), Col("value")], rows)])

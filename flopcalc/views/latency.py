"""``machine``, ``bench`` (one config and the grid) and ``export`` as Documents."""

from __future__ import annotations

import math
import statistics

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
        engines = m.calibration.get("engines", {})
        if engines:
            erows = [{"engine": e, "version": v.get("version"), "networks": v["fit"]["networks"],
                      "median_error": v["fit"]["network_median_error"], "max_error": v["fit"]["network_max_error"],
                      "fit_residual": v["fit"]["network_residual"], "spread": v["fit"].get("spread"),
                      "seconds": v["fit"].get("seconds"),
                      "kernels": (f"own, {sum(v['fit']['layer_samples'].values())} layers"
                                  if v["fit"].get("layer_samples") else "torch's")}
                     for e, v in sorted(engines.items())]
            tables.append(Table([Col("engine"), Col("version"), Col("networks", "int"), Col("median_error", "pct"),
                                 Col("max_error", "pct"), Col("fit_residual", "pct"), Col("spread", "pct"),
                                 Col("seconds", "float", digits=0), Col("kernels")], erows,
                                title="other engines: each fitted on off-grid networks it ran (|error| on those "
                                      "networks; spread: a sweep's median distance from the median of sweeps; "
                                      "kernels: torch's kernel model moved to the engine's own per-layer times "
                                      "in those networks, or torch's as it is)"))
    else:
        notes.append("roofline only (--quick): run 'flopcalc machine' without --quick for predicted times")
    data = {"profile": path, **machine_summary(m), "torch": m.torch, "seconds": m.seconds, "fit": m.fit}
    if m.calibration.get("engines"):
        data["engines"] = {e: {"version": v.get("version"), "threads": v.get("threads"), "fit": v["fit"]}
                           for e, v in sorted(m.calibration["engines"].items())}
    if load is not None:
        data["load"] = load.to_json()
        notes.append(load_note(load))
    return Document("machine", data, "this machine, measured", tables, notes)


def fraction_of_peak(r, machine) -> float:
    """A run's achieved FLOP/s (2 per multiply-add) over the machine's measured matmul peak."""
    return 2 * r.macs / r.measured_s / machine.peak_flops


def _outputs(check: dict | None) -> str | None:
    """An engine's outputs against torch's, in a few words."""
    if not check:
        return None
    if check["equal"] is None:  # int8: how often the top class is torch's
        return f"top-1 = torch's {100 * check['top1_agreement']:.0f}%, max |diff| {check['max_abs_diff']:.2g}"
    return f"{'equal' if check['equal'] else 'DIFFER'} (max |diff| {check['max_abs_diff']:.1g})"


def bench_document(runs, machine, top: int = 5, load=None) -> Document:
    main = next((r for r in runs if r.mode == "optimized"), runs[0])
    spread = f" (spread {100 * main.spread:.1f}%)" if main.spread is not None else ""
    eager = next((r for r in runs if r.mode == "eager"), None)
    run_rows = [{"backend": r.backend, "mode": r.mode, "dtype": r.dtype, "measured_ms": ms(r.measured_s),
                 "spread": r.spread, "predicted_ms": ms(r.predicted_s),
                 "images_per_second": r.images_per_second, "fraction_of_peak": fraction_of_peak(r, machine),
                 "speedup": eager.measured_s / r.measured_s if eager else None,
                 "outputs": _outputs(r.check), "graph_macs": r.graph_macs, "check": r.check,
                 "conversion": r.conversion} for r in runs]
    layers = [{"name": x["name"], "kind": x["kind"], "macs": x["macs"], "bytes": x["bytes"], "bound": x["bound"],
               "measured_ms": ms(x["measured_s"]), "roofline_ms": ms(x["roofline_s"]),
               "predicted_ms": ms(x["predicted_s"])} for x in main.layers]
    data = {"model": main.model, "config": main.config, "threads": main.threads,
            "machine": machine_summary(machine), "macs": main.macs,
            "measured_ms": ms(main.measured_s), "predicted_ms": ms(main.predicted_s),
            "roofline_ms": ms(main.roofline_s), "images_per_second": main.images_per_second,
            "fraction_of_peak": fraction_of_peak(main, machine), "rank_correlation": main.rank_correlation,
            "rank_correlation_calibrated": main.rank_correlation_calibrated, "runs": run_rows, "layers": layers}
    cols = [Col("backend"), Col("mode"), Col("measured_ms", "ms"), Col("spread", "pct"),
            Col("images_per_second", "float", digits=1), Col("fraction_of_peak", "pct")]
    if any(r.check for r in runs):
        cols.append(Col("outputs"))
    if eager:
        cols.append(Col("speedup", "float", digits=2, show=lambda v: f"{v:.2f}x"))
    tables = [Table(cols, run_rows)]
    if main.inputs is not None:
        what = f"{main.model} input {', '.join(map(str, main.inputs))}"
    else:
        h, w = main.resolution
        what = f"{main.model} alpha {main.alpha:g} at {h if h == w else f'{h}x{w}'}"
    heading = f"{what}, batch {main.batch}, {main.threads} threads: {main.images_per_second:,.1f} images/s"
    notes = [f"whole model: measured {ms(main.measured_s):.2f} ms{spread}"
             + (f", predicted {ms(main.predicted_s):.2f} ms ({100 * (main.predicted_s / main.measured_s - 1):+.1f}%)"
                if main.predicted_s else "")
             + (f", roofline {ms(main.roofline_s):.2f} ms" if main.roofline_s else "")
             + f"; {100 * fraction_of_peak(main, machine):.1f}% of this machine's matmul peak "
               f"({machine.peak_flops / 1e9:.0f} GFLOP/s)"]
    for r in runs:
        if r.graph_macs is not None:
            same = "= the analyzer's" if r.graph_macs == r.macs else f"!= the analyzer's {r.macs:,}"
            notes.append(f"{r.mode}: the graph it runs carries {r.graph_macs:,} multiply-adds {same}"
                         + ("; converted now" if r.conversion and not r.conversion["cached"] else
                            "; conversion read from the cache" if r.conversion else "")
                         + (" (the cached one was corrupt: rebuilt)" if r.conversion and r.conversion["rebuilt"]
                            else ""))
    if layers:
        lay_cols = [Col("name"), Col("kind"), Col("macs", "int"), Col("bytes", "int"), Col("bound"),
                    Col("measured_ms", "ms", digits=3), Col("predicted_ms", "ms", digits=3),
                    Col("roofline_ms", "ms", digits=3)]
        tables.append(Table(lay_cols, layers, title="per layer"))
        key = "predicted_ms" if main.rank_correlation_calibrated is not None else "roofline_ms"
        # a layer an engine fused away (an activation inside a conv) is predicted at 0: no ratio to rank
        rated = [x for x in layers if x[key] and x["measured_ms"]]
        worst = sorted(rated, key=lambda x: -abs(math.log(x[key] / x["measured_ms"])))[:top]
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
    """Per batch, the prediction judged against the machine's own repeatability: the share of configs
    predicted within 15% of the first measurement beside the share whose second measurement is, the
    median |difference| of each, and Spearman against the first measurement of the prediction, of the
    second measurement and of MAdds alone."""
    from ..stats import spearman
    out = []
    for batch in sorted({r.batch for r in results}):
        rs = [r for r in results if r.batch == batch and r.predicted_s]
        if not rs:
            continue
        pred = sorted(abs(r.predicted_s / r.measured_s - 1) for r in rs)
        row = {"batch": batch, "configs": len(rs), "within_15": sum(e <= 0.15 for e in pred) / len(rs),
               "median_abs_error": statistics.median(pred), "max_abs_error": pred[-1],
               "spearman": spearman([r.predicted_s for r in rs], [r.measured_s for r in rs]) if len(rs) > 1 else None,
               "spearman_macs": spearman([r.macs for r in rs], [r.measured_s for r in rs]) if len(rs) > 1 else None}
        raw = [r for r in rs if r.predicted_raw_s]
        if raw:  # the profile's prediction before the speed anchor
            errs = sorted(abs(r.predicted_raw_s / r.measured_s - 1) for r in raw)
            row.update({"speed_factor": raw[0].speed_factor, "raw_within_15": sum(e <= 0.15 for e in errs) / len(raw),
                        "raw_median_abs_error": statistics.median(errs)})
        again = [r for r in rs if r.remeasured_s]
        if again:
            diff = sorted(abs(r.remeasured_s / r.measured_s - 1) for r in again)
            row.update({"remeasured_within_15": sum(e <= 0.15 for e in diff) / len(again),
                        "median_abs_remeasured": statistics.median(diff),
                        "spearman_remeasured": spearman([r.remeasured_s for r in again],
                                                        [r.measured_s for r in again]) if len(again) > 1 else None})
        out.append(row)
    return out


def goals(summary: list[dict]) -> list[dict]:
    """The restated prediction goal per batch: within 15% at least as often as a re-measurement (less 5
    points), median |error| at most 1.25x the re-measurement's, Spearman at least 0.95."""
    out = []
    for s in summary:
        if "remeasured_within_15" not in s:
            continue
        checks = [("share within 15%", s["within_15"] >= s["remeasured_within_15"] - 0.05,
                   f"{100 * s['within_15']:.0f}% vs re-measured {100 * s['remeasured_within_15']:.0f}% (-5 points)"),
                  ("median |error|", s["median_abs_error"] <= 1.25 * s["median_abs_remeasured"],
                   f"{100 * s['median_abs_error']:.1f}% vs 1.25 x {100 * s['median_abs_remeasured']:.1f}%"),
                  ("Spearman", s["spearman"] is not None and s["spearman"] >= 0.95,
                   f"{s['spearman']:.3f} (MAdds alone {s['spearman_macs']:.3f}) vs 0.95")]
        out += [{"batch": s["batch"], "goal": g, "met": "yes" if ok else "NO", "figures": fig} for g, ok, fig in checks]
    return out


GRID_SUMMARY_COLS = (Col("batch", "int"), Col("configs", "int"), Col("within_15", "pct"),
                     Col("remeasured_within_15", "pct"), Col("median_abs_error", "pct"),
                     Col("median_abs_remeasured", "pct"), Col("max_abs_error", "pct"),
                     Col("spearman", "float", digits=3), Col("spearman_remeasured", "float", digits=3),
                     Col("spearman_macs", "float", digits=3), Col("speed_factor", "float", digits=3),
                     Col("raw_within_15", "pct"), Col("raw_median_abs_error", "pct"))
GOAL_COLS = (Col("batch", "int"), Col("goal"), Col("met"), Col("figures"))


def bench_grid_cols(predicted: bool = True) -> list[Col]:
    """The columns of the timed grid, one config a row (flattened records of ``bench --grid``)."""
    cols = [Col("model"), Col("alpha", "multiplier"), Col("resolution", "resolution"),
            Col("batch", "int"), Col("measured_ms", "ms"), Col("remeasured_ms", "ms"), Col("spread", "pct")]
    if predicted:
        cols += [Col("predicted_ms", "ms"), Col("error", show=lambda v: percent(v, 1, signed=True))]
    return cols + [Col("images_per_second", "float", digits=1)]


def bench_grid_document(results, machine, predicted: bool = True, load=None) -> Document:
    recs = [{"model": r.model, "config": r.config,
             "measured_ms": ms(r.measured_s), "remeasured_ms": ms(r.remeasured_s), "spread": r.spread,
             "predicted_ms": ms(r.predicted_s) if predicted else None,
             "predicted_raw_ms": ms(r.predicted_raw_s) if predicted else None,
             "error": (r.predicted_s / r.measured_s - 1) if predicted and r.predicted_s else None,
             "images_per_second": r.images_per_second} for r in results]
    rows = [flat(rec) for rec in recs]
    summary = grid_summary(results) if predicted else []
    tables = [Table(bench_grid_cols(predicted), rows)]
    backend = results[0].backend if results else "torch"
    met = goals(summary)
    if summary:
        tables.append(Table(GRID_SUMMARY_COLS, summary, title="predicted against measured, beside a second "
                                                               "measurement against the first, whole model"))
        tables.append(Table(GOAL_COLS, met, title="the prediction goal: as good as a re-measurement"))
    data = {"machine": machine_summary(machine), "threads": results[0].threads if results else None,
            "backend": backend, "configs": recs, "summary": summary, "goals": met}
    what = "the optimized model (batch norm folded, channels-last)" if backend == "torch" else \
        f"{backend}'s conversion (outputs checked against torch's)"
    notes = [f"measured: {what}, twice in interleaved sweeps, each a median over sweeps of medians of repeats "
             "(spread: the repeats' median coefficient of variation); predicted: from the machine profile, without "
             "running the model"]
    if any(s.get("speed_factor") for s in summary):
        notes.append("speed_factor: the machine's speed now against its profile, measured in the same sweeps on "
                     "off-grid networks of the calibration (measured over predicted time; none is a grid config); "
                     "each prediction is the profile's times it. raw_*: the profile's prediction alone")
    checked = [r.check for r in results if r.check]
    if checked:
        notes.append(f"{len(checked)} configs' outputs equal torch's within tolerance (largest |difference| "
                     f"{max(c['max_abs_diff'] for c in checked):.2g})")
    if load is not None:
        data["load"] = load.to_json()
        notes.append(load_note(load))
    on = "" if backend == "torch" else f" on {backend}"
    return Document("bench", data, f"the verify grid{on} on this machine ({machine.describe()})", tables, notes)


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

"""What ``flopcalc verify`` prints: per-layer and grid tables, JSON, and the CLI entry."""

from __future__ import annotations

import sys

from ..analyze import analyze
from ..render import csv_text, describe, json_text, table_text
from .verify import (GRID_ALPHAS, GRID_RESOLUTIONS, REFERENCE_RTOL, UNSUPPORTED_MEANING, ModuleChecks,
                     Report, check_fits, default_memory_limit, verify, verify_grid)

QUANTITY_LABEL = {"modules": "layer names", "shape": "shape", "params": "params", "numel": "sum(p.numel())",
                  "fvcore": "fvcore", "flop_counter": "FlopCounterMode", "executed": "NumPy executed MAdds",
                  "values": "NumPy output (relative difference)"}


def _value(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.1e}"
    if isinstance(v, tuple) and v and isinstance(v[0], str):
        return f"{len(v)} modules"
    if isinstance(v, tuple):
        return "x".join(map(str, v))
    return f"{v:,}" if isinstance(v, int) else str(v)


def _mark(m: ModuleChecks) -> str:
    if m.ok:
        return "ok"
    return "MISMATCH " + "; ".join(f"{QUANTITY_LABEL[c.quantity]}: flopcalc {_value(c.expected)}, "
                                   f"measured {_value(c.measured)}" for c in m.checks if not c.ok)


def _unsupported_line(r: Report) -> str:
    if not r.unsupported:
        return "fvcore counted every op it met."
    ops = ", ".join(f"{op} x{n} ({UNSUPPORTED_MEANING.get(op, 'unknown')})" for op, n in r.unsupported.items())
    return f"fvcore could not count: {ops}; flopcalc charges them 0 MAdds too (ReLU fvcore skips silently)."


def report_json(r: Report) -> dict:
    def module(m: ModuleChecks) -> dict:
        return {"name": m.name, "kind": m.kind, "ok": m.ok,
                "checks": {c.quantity: {"expected": _plain(c.expected), "measured": _plain(c.measured)}
                           for c in m.checks}}
    return {"model": r.analysis.model, "config": r.analysis.config, "ok": r.ok,
            "layers": [module(m) for m in r.layers], "blocks": [module(m) for m in r.blocks],
            "totals": [module(m) for m in r.totals], "unsupported_ops": r.unsupported,
            **({"padding_macs": r.padding} if r.padding else {})}


def _plain(v: object) -> object:
    return list(v) if isinstance(v, tuple) else v


def render_report(r: Report, fmt: str) -> str:
    if fmt == "json":
        return json_text(report_json(r))
    rows = [[m.name, m.kind, _value(m.get("shape").expected), _value(m.get("params").expected),
             _value(row.macs), _value(m.get("fvcore").expected), _value(m.get("flop_counter").expected),
             _mark(m)] for m, row in zip(r.layers, r.analysis.layers)]
    head = ["layer", "kind", "output", "params", "MAdds", "fvcore", "FlopCounterMode", "check"]
    if fmt == "csv":
        return csv_text([head] + rows)
    a = r.analysis
    n_checks = sum(len(m.checks) for m in r.layers + r.blocks + r.totals)
    bad = r.mismatches
    verdict = (f"all {n_checks} checks agree" if not bad else f"{len(bad)} of {n_checks} checks DISAGREE")
    lines = [f"{describe(a)}: {len(r.layers)} layers, {len(r.blocks)} blocks; {verdict}", "",
             table_text(rows, head, fmt, 3), ""]
    tot = table_text([[m.name, QUANTITY_LABEL[c.quantity], _value(c.expected), _value(c.measured),
                       "ok" if c.ok else "MISMATCH"] for m in r.totals for c in m.checks],
                     ["total", "counter", "flopcalc", "measured", "check"], fmt, 2)
    lines += [tot, ""]
    bad_blocks = [m for m in r.blocks if not m.ok]
    lines.append(f"blocks: {len(r.blocks) - len(bad_blocks)} of {len(r.blocks)} agree on params, fvcore "
                 "and FlopCounterMode" + "".join(f"\n  {m.name}: {_mark(m)}" for m in bad_blocks))
    lines.append(_unsupported_line(r))
    lines.append("columns: output, params and MAdds from flopcalc; fvcore = flopcalc's record under "
                 "fvcore's convention (MAdds, batch norm 2 per output element, pooling 1 per input "
                 "element); FlopCounterMode = 2 x MAdds of conv and linear. A row is ok when the built "
                 "model's hooks, fvcore and FlopCounterMode measure exactly these numbers.")
    if r.padding:
        lines += ["", _padding_text(r, fmt)]
    return "\n".join(lines) + "\n"


def _padding_text(r: Report, fmt: str) -> str:
    macs = {row.name: row.macs for row in r.analysis.layers}
    rows = [[name, f"{macs[name]:,}", f"{pad:,}", f"{100 * pad / macs[name]:.2f}%"]
            for name, pad in r.padding.items() if pad]
    total = sum(r.padding.values())
    values = [m.get("values").measured for m in r.layers]
    return (f"NumPy reference kernels: largest relative difference from torch {max(values):.1e}.\n"
            f"Outputs equal torch's on all {len(values)} layers (relative tolerance {REFERENCE_RTOL:g}); "
            "executed multiply-adds equal the formula on every conv and linear layer.\n"
            f"{total:,} of {r.analysis.total.macs:,} MAdds ({100 * total / r.analysis.total.macs:.2f}%) "
            "multiply zero padding; the formula counts them, as every counter does:\n\n"
            + table_text(rows, ["layer", "MAdds", "on padding", "share"], fmt, 1))


def render_grid(reports: list[Report], fmt: str) -> str:
    head = ["model", "alpha", "resolution", "layers", "params", "MAdds", "fvcore", "FlopCounterMode", "check"]

    def row(r: Report) -> list:
        a = r.analysis
        fv = r.totals[0].get("fvcore")
        fc = r.totals[0].get("flop_counter")
        mark = "ok" if r.ok else f"{len(r.mismatches)} MISMATCHES"
        return [a.model, a.config["alpha"], a.config["resolution"], len(r.layers), a.total.params,
                a.total.macs, fv.measured, fc.measured, mark]

    rows = [row(r) for r in reports]
    if fmt == "json":
        return json_text({"ok": all(r.ok for r in reports),
                          "configs": [dict(zip(head, x)) | {"ok": r.ok} for x, r in zip(rows, reports)]})
    if fmt == "csv":
        return csv_text([head] + rows)
    shown = [[m, f"{al:g}", str(res), str(n), f"{p:,}", f"{mac:,}", f"{fv:,}", f"{fc:,}", mark]
             for m, al, res, n, p, mac, fv, fc, mark in rows]
    bad = [r for r in reports if not r.ok]
    verdict = (f"all {len(reports)} configs agree exactly, every layer and block"
               if not bad else f"{len(bad)} of {len(reports)} configs DISAGREE")
    return (f"{table_text(shown, head, fmt, 3)}\n\n{verdict}\n"
            "fvcore and FlopCounterMode columns are measured on the built model; each config "
            "also checks every layer's output shape, params and counts (flopcalc verify MODEL).\n")


def run_cli(args, resolution: int | None) -> int:
    """``flopcalc verify``: exit 0 when everything agrees, 1 on any mismatch."""
    if args.grid:
        models = [args.model] if args.model else ["mobilenet_v1", "mobilenet_v2"]
        alphas = (args.alpha,) if args.alpha is not None else GRID_ALPHAS
        resolutions = (resolution,) if resolution else GRID_RESOLUTIONS
        for m in models:  # refuse before any work if the largest config would not fit
            check_fits(analyze(m, max(alphas), max(resolutions), args.classes),
                       args.max_memory or default_memory_limit())
        reports = verify_grid(models, alphas, resolutions, args.classes, args.max_memory)
        sys.stdout.write(render_grid(reports, args.format))
        return 0 if all(r.ok for r in reports) else 1
    alpha = 1.0 if args.alpha is None else args.alpha
    report = verify(args.model, alpha, resolution or 224, args.classes, args.max_memory, args.reference)
    sys.stdout.write(render_report(report, args.format))
    return 0 if report.ok else 1

"""What ``flopcalc verify`` prints: per-layer and grid Documents (torch-free: the checks are data)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..conventions import FVCORE_UNSUPPORTED
from ..output import Col, Document, Table, share
from .layers import describe
from .records import config_record, flat

if TYPE_CHECKING:  # the checks are data: the view needs no torch
    from ..nn.verify import ModuleChecks, Verification

# What each check compares, for the MISMATCH text and the totals table.
QUANTITY_MEANING = {"modules": "the built model's leaf modules", "shape": "output shape", "params": "params",
                    "numel": "sum(p.numel())", "fvcore": "fvcore", "flop_counter": "flop_counter",
                    "executed": "NumPy executed macs", "values": "NumPy output (relative difference)"}


COLUMNS_NOTE = ("columns: output_shape, params and macs are flopcalc's analysis; fvcore and flop_counter are "
                "measured on the built PyTorch model (fvcore's FlopCountAnalysis, torch's FlopCounterMode). "
                "check is ok when every measurement equals flopcalc's prediction under that counter's "
                "convention: fvcore = macs of conv and linear + batch norm 2 per output element + pooling 1 per "
                "input element; flop_counter = 2 x macs of conv and linear (and of attention where torch runs "
                "its math path).")


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
    return "MISMATCH " + "; ".join(f"{QUANTITY_MEANING[c.quantity]}: flopcalc {_value(c.expected)}, "
                                   f"measured {_value(c.measured)}" for c in m.checks if not c.ok)


def _unsupported_line(r: Verification) -> str:
    if not r.unsupported:
        return "fvcore counted every op it met."
    ops = ", ".join(f"{op} x{n} ({FVCORE_UNSUPPORTED.get(op, 'unknown')})" for op, n in r.unsupported.items())
    attention = ("; attention's own macs it counts, and charges 0 under fvcore's convention"
                 if "aten::scaled_dot_product_attention" in r.unsupported else "")
    return (f"fvcore could not count: {ops}; flopcalc charges them 0 macs too (ReLU fvcore skips silently)"
            f"{attention}.")


def _plain(v: object) -> object:
    return list(v) if isinstance(v, tuple) else v


def _module_json(m: ModuleChecks) -> dict:
    return {"name": m.name, "kind": m.kind, "ok": m.ok,
            "checks": {c.quantity: {"expected": _plain(c.expected), "measured": _plain(c.measured)}
                       for c in m.checks}}


LAYER_COLS = (Col("name"), Col("kind"), Col("output_shape", "shape"), Col("params", "int"), Col("macs", "int"),
              Col("fvcore", "int"), Col("flop_counter", "int"), Col("check"))


TOTAL_COLS = (Col("name"), Col("quantity"), Col("expected", show=_value), Col("measured", show=_value),
              Col("check"))


def verify_document(r: Verification) -> Document:
    a = r.analysis
    rows = [{"name": m.name, "kind": m.kind, "output_shape": list(row.output_shape), "params": row.params,
             "macs": row.macs, "fvcore": m.get("fvcore").measured, "flop_counter": m.get("flop_counter").measured,
             "check": _mark(m)} for m, row in zip(r.layers, a.layers)]
    totals = [{"name": m.name, "quantity": c.quantity, "expected": c.expected, "measured": c.measured,
               "check": "ok" if c.ok else "MISMATCH"} for m in r.totals for c in m.checks]
    n_checks = sum(len(m.checks) for m in r.layers + r.blocks + r.totals)
    bad = r.mismatches
    verdict = f"all {n_checks} checks agree" if not bad else f"{len(bad)} of {n_checks} checks DISAGREE"
    bad_blocks = [m for m in r.blocks if not m.ok]
    notes = [f"blocks: {len(r.blocks) - len(bad_blocks)} of {len(r.blocks)} agree on params, fvcore and "
             "flop_counter" + "".join(f"\n  {m.name}: {_mark(m)}" for m in bad_blocks)
             + "\n" + _unsupported_line(r) + "\n" + COLUMNS_NOTE]
    tables = [Table(LAYER_COLS, rows), Table(TOTAL_COLS, totals)]
    data = {"model": a.model, "config": config_record(a.config), "ok": r.ok,
            "layers": [_module_json(m) for m in r.layers], "blocks": [_module_json(m) for m in r.blocks],
            "totals": [_module_json(m) for m in r.totals], "unsupported_ops": r.unsupported}
    if r.padding:
        macs = {row.name: row.macs for row in a.layers}
        pad_rows = [{"name": name, "macs": macs[name], "padding_macs": pad, "padding_share": share(pad, macs[name])}
                    for name, pad in r.padding.items() if pad]
        total = sum(r.padding.values())
        values = [m.get("values").measured for m in r.layers]
        rtol = r.layers[0].get("values").tolerance
        title = (f"NumPy reference kernels: largest relative difference from torch {max(values):.1e}.\n"
                 f"Outputs equal torch's on all {len(values)} layers (relative tolerance {rtol:g}); "
                 "executed multiply-adds equal the formula on every conv and linear layer.\n"
                 f"{total:,} of {a.total.macs:,} macs ({100 * total / a.total.macs:.2f}%) multiply zero padding; "
                 "the formula counts them, as every counter does:\n")
        tables.append(Table((Col("name"), Col("macs", "int"), Col("padding_macs", "int"),
                             Col("padding_share", "pct")), pad_rows, title))
        data["padding_macs"] = r.padding
    heading = f"{describe(a)}: {len(r.layers)} layers, {len(r.blocks)} blocks; {verdict}"
    return Document("verify", data, heading, tables, notes)


VERIFY_GRID_COLS = (Col("model"), Col("alpha", "multiplier"), Col("resolution", "resolution"),
             Col("layers", "int"), Col("params", "int"), Col("macs", "int"), Col("fvcore", "int"),
             Col("flop_counter", "int"), Col("check"))


def verify_grid_document(reports: list[Verification]) -> Document:
    recs = []
    for r in reports:
        a = r.analysis
        recs.append({"model": a.model, "config": config_record(a.config),
                     "layers": len(r.layers), "params": a.total.params, "macs": a.total.macs,
                     "fvcore": r.totals[0].get("fvcore").measured,
                     "flop_counter": r.totals[0].get("flop_counter").measured,
                     "check": "ok" if r.ok else f"{len(r.mismatches)} MISMATCHES", "ok": r.ok})
    rows = [flat(rec) for rec in recs]
    bad = [r for r in reports if not r.ok]
    verdict = (f"all {len(reports)} configs agree exactly, every layer and block"
               if not bad else f"{len(bad)} of {len(reports)} configs DISAGREE")
    note = ("columns: params and macs are flopcalc's analysis; fvcore and flop_counter are measured on the built "
            "PyTorch model. Each config also checks every layer's output shape, params and counts "
            "(flopcalc verify MODEL shows them).")
    return Document("verify", {"ok": not bad, "configs": recs}, "", [Table(VERIFY_GRID_COLS, rows)],
                    [verdict + "\n" + note])

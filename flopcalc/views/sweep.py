"""``sweep`` and ``budget`` as Documents."""

from __future__ import annotations

from ..output import Col, Document, Table
from .records import TOP1_COL, flat, fraction
from ..walk import DEFAULT_CONVENTION


def point_record(p, key: str = "macs", distance: float | None | bool = False) -> dict:
    """A sweep or budget config: its config, params, operation count under ``key`` and published top-1."""
    rec = {"model": p.model, "config": {"alpha": p.alpha, "resolution": list(p.resolution),
                                        "num_classes": p.num_classes},
           "params": p.params, key: p.reported}
    if distance is not False:
        rec["distance"] = distance
    rec.update(top1=fraction(p.top1), top1_source=p.top1_source)
    return rec


def sweep_document(points, convention: str) -> Document:
    from ..conventions import CONVENTIONS
    from ..published import SOURCES
    conv = CONVENTIONS[convention]
    key = conv.key
    recs = [point_record(p, key) for p in points]
    rows = [flat(rec) for rec in recs]
    cols = [Col("model"), Col("alpha", "multiplier"), Col("resolution", "resolution"),
            Col("params", "int"), Col(key, "int"), TOP1_COL, Col("top1_source", show=lambda v: SOURCES[v].short)]
    csv_cols = (Col("model"), Col("alpha", "float"), Col("resolution", "shape"), Col("num_classes", "int"),
                Col("params", "int"), Col(key, "int"), Col("top1", "float", digits=5), Col("top1_source"))
    heading = f"{points[0].model}  classes={points[0].num_classes}" + (
        f"  convention={convention}" if convention != DEFAULT_CONVENTION else "")
    note = ("top1: published ImageNet top-1 of the config's published checkpoint, quoted, never recomputed "
            "(TF-Slim's checkpoint tables, torchvision's weights); blank where none was published.")
    return Document("sweep", {"model": points[0].model, "convention": conv.ref(), "configs": recs}, heading,
                    [Table(cols, rows)], [note], csv_table=Table(csv_cols, rows))


def budget_document(points, macs, params, near_target=None, fits=None,
                    convention: str = DEFAULT_CONVENTION) -> Document:
    from ..conventions import CONVENTIONS
    from ..published import SOURCES
    conv = CONVENTIONS[convention]
    key = conv.key
    if fits is not None:
        recs = [point_record(f.point, key, f.distance) for f in fits]
    else:
        recs = [point_record(p, key, None) for p in points]
    rows = [flat(rec) for rec in recs]
    cols = [Col("model"), Col("alpha", "multiplier"), Col("resolution", "resolution"),
            Col("params", "int"), Col(key, "int")]
    if fits is not None:
        cols.append(Col("distance", "pct"))
    cols += [TOP1_COL, Col("top1_source", show=lambda v: SOURCES[v].short)]
    if fits is not None:
        heading = f"the configs of each model nearest {near_target:,} {conv.label}"
        note = ("distance: |macs - target| / target. Pairs at equal cost (V1 against V2) are chosen this way.")
    else:
        limits = [f"at most {macs:,} macs" if macs is not None else "", f"at most {params:,} params"
                  if params is not None else ""]
        heading = f"{len(rows)} configs with " + " and ".join(x for x in limits if x) + ", the most macs first"
        note = ("alpha from 0.1 to 2.0 in steps of 0.05; top1: published ImageNet top-1 where a checkpoint "
                "of that config was published (quoted).")
    data = {"budget": {"macs": macs, "params": params, "near": near_target}, "convention": conv.ref(),
            "configs": recs}
    csv_cols = (Col("model"), Col("alpha", "float"), Col("resolution", "shape"), Col("num_classes", "int"),
                Col("params", "int"), Col(key, "int"), Col("distance", "float"), Col("top1", "float", digits=5),
                Col("top1_source"))
    return Document("budget", data, heading, [Table(cols, rows)], [note], csv_table=Table(csv_cols, rows))


def latency_budget_document(fit, ms_budget: float, backend: str, batch: int, machine,
                            convention: str = DEFAULT_CONVENTION) -> Document:
    """``budget --ms``: configs predicted under a latency budget, beside their multiply-adds."""
    from ..conventions import CONVENTIONS
    conv = CONVENTIONS[convention]
    key = conv.key
    recs = [dict(point_record(p, key, None), predicted_ms=t * 1e3, images_per_second=batch / t) for p, t in fit]
    rows = [flat(rec) for rec in recs]
    cols = [Col("model"), Col("alpha", "multiplier"), Col("resolution", "resolution"), Col("params", "int"),
            Col(key, "int"), Col("predicted_ms", "float", digits=2), Col("images_per_second", "float", digits=0),
            TOP1_COL]
    heading = (f"{len(rows)} configs predicted under {ms_budget:g} ms on {backend} at batch {batch}, "
               "the most macs first")
    notes = [f"predicted by this machine's profile ({machine.describe()}) for {backend}, without running a model; "
             "check one with 'flopcalc bench MODEL --backend " + backend + "'",
             "alpha from 0.1 to 2.0 in steps of 0.05; top1: published ImageNet top-1 where a checkpoint of that "
             "config was published (quoted)"]
    data = {"budget": {"ms": ms_budget, "backend": backend, "batch": batch}, "convention": conv.ref(),
            "machine": {"peak_gflops": machine.peak_flops / 1e9, "bandwidth_gbs": machine.bandwidth / 1e9,
                        "threads": machine.threads}, "configs": recs}
    csv_cols = (Col("model"), Col("alpha", "float"), Col("resolution", "shape"), Col("params", "int"),
                Col(key, "int"), Col("predicted_ms", "float", digits=4), Col("top1", "float", digits=5))
    return Document("budget", data, heading, [Table(cols, rows)], notes, csv_table=Table(csv_cols, rows))

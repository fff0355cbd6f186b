"""``reconcile``, ``conventions`` and ``published`` as Documents."""

from __future__ import annotations

from ..output import Col, Document, Table
from .layers import describe
from .records import config_record, flat, fraction

RECONCILE_REASONS = ("classes", "rounding", "bias", "batchnorm", "activation", "pool", "add", "flops")
# the causes only a recorded model has (layer norms, attention): shown where they are not zero
RECORDED_REASONS = ("norm", "attention", "other", "sizes", "batch")


def _reasons(causes: dict) -> dict:
    """A line's difference by reason, as JSON gives it: the zoo's reasons always, a recorded model's
    own (weights left out, norm, attention) where not zero, so the values add up to the difference."""
    shown_if_any = RECORDED_REASONS + ("weights",)  # a recorded model's norm or embedding weights, say
    return {k: causes[k] for k in ("weights",) + RECONCILE_REASONS[:-1] + RECORDED_REASONS + RECONCILE_REASONS[-1:]
            if k in causes and (k not in shown_if_any or causes[k])}


def reconcile_document(r, live: dict | None = None) -> Document:
    """``flopcalc reconcile``: every convention's numbers beside the default's, the difference
    split by reason; with ``live`` (convention -> (params, reported) measured, or None when the
    tool is not installed) the tools' own numbers beside."""
    from ..reconcile import REASON_TEXT
    base = r.base
    ops_rows, param_rows, records = [], [], []
    for line in r.lines:
        c = line.convention
        rec = {"name": c.name, "unit": c.unit or None, "flops_per_mac": c.flops_per_mac,
               "num_classes": line.num_classes, "params": line.params, "reported": line.reported,
               "params_difference": line.params_causes and _reasons(line.params_causes),
               "ops_difference": line.ops_causes and _reasons(line.ops_causes)}
        if live is not None and c.live:
            got = live.get(c.name)
            if not got:  # not installed (None), or a tool that cannot count this kind of model (False)
                rec["live"] = None
            else:
                rec["live"] = {"params": got[0], "reported": got[1], "ok": line.agrees(got)}
        records.append(rec)

        def check(i: int, expected) -> tuple:
            if live is None or not c.live or expected is None:
                return None, ""
            if live.get(c.name) is False:
                return None, "n/a"  # keras builds its own models; onnx-tool reads files, not modules
            if c.name not in live or live[c.name] is None:
                return None, "not installed"
            m = live[c.name][i]
            return m, "" if m is None else ("ok" if m == expected else "DIFFERS")

        if line.ops_causes is not None:
            m, mark = check(1, line.reported)
            ops_rows.append({"name": c.name, "unit": c.unit, "reported": line.reported,
                             "difference": line.reported - base.total.macs, **line.ops_causes,
                             "measured": m, "check": mark})
        if line.params_causes is not None:
            m, mark = check(0, line.params)
            param_rows.append({"name": c.name, "params": line.params,
                               "difference": line.params - base.total.params, **line.params_causes,
                               "measured": m, "check": mark})
    extra = (Col("measured", "int"), Col("check")) if live is not None else ()
    used = lambda rows: [k for k in RECONCILE_REASONS if any(row.get(k) for row in rows)]  # noqa: E731
    ops_reasons = [k for k in RECONCILE_REASONS if k != "weights"]
    ops_reasons[-1:-1] = [k for k in RECORDED_REASONS if any(row.get(k) for row in ops_rows)]
    # a recorded model's products a tool leaves out or charges its own way (thop's, torchinfo's)
    ops_reasons[2:2] = [k for k in ("weights",) if any(row.get(k) for row in ops_rows)]
    param_reasons = [k for k in ("classes", "rounding", "bias", "batchnorm") if k in used(param_rows) or k in
                     ("bias", "batchnorm")]
    # a recorded model's norms and embeddings are weights some conventions leave out: shown where they differ
    param_reasons[:0] = [k for k in ("weights",) if any(row.get(k) for row in param_rows)]
    ops_table = Table((Col("name"), Col("unit"), Col("reported", "int"), Col("difference", "int"))
                      + tuple(Col(k, "int") for k in ops_reasons) + extra, ops_rows,
                      "operations: each counter's number, its difference from the default (pytorch), and that "
                      "difference by reason")
    param_table = Table((Col("name"), Col("params", "int"), Col("difference", "int"))
                        + tuple(Col(k, "int") for k in param_reasons) + extra, param_rows,
                        "parameters:")
    reasons = "\n".join(f"  {k}: {REASON_TEXT[k]}" for k in ops_reasons)
    notes = ["reasons (each column is an exact difference; they add up to the difference):\n" + reasons
             + "\nkeras reports no operation count, flop_counter no parameter count; "
             "flopcalc conventions says what each counts."]
    if live is not None:
        bad = [rec["name"] for rec in records if rec.get("live") and not rec["live"]["ok"]]
        missing = [rec["name"] for rec in records if "live" in rec and rec["live"] is None
                   and live.get(rec["name"]) is not False]
        ran = sum(1 for rec in records if rec.get("live"))
        notes.append(f"live: {ran} counters ran on the model; " + (
            f"{len(bad)} DIFFER from the prediction: {', '.join(bad)}" if bad else "every one printed exactly "
            "the predicted numbers") + (f"; not installed: {', '.join(missing)}" if missing else ""))
    data = {"model": base.model, "config": config_record(base.config), "conventions": records}
    return Document("reconcile", data, describe(base), [ops_table, param_table], notes)


def conventions_document() -> Document:
    from ..conventions import CONVENTIONS
    rows = [{"name": c.name, "source": c.source, "unit": c.unit or None, "flops_per_mac": c.flops_per_mac,
             "num_classes": c.classes, "rounding": c.rounding, "ops": c.ops_rule, "params": c.params_rule}
            for c in CONVENTIONS.values()]
    import textwrap

    def item(head: str, text: str) -> str:
        return textwrap.fill(f"{head}: {text}", 96, initial_indent="  ", subsequent_indent="    ",
                             break_on_hyphens=False, break_long_words=False)

    text = "\n\n".join(
        f"{r['name']}: {r['source']}\n" + item("ops" + (f" (printed as {r['unit']}" + (
            f", {r['flops_per_mac']} per multiply-add" if r["flops_per_mac"] != 1 else "") + ")" if r["unit"] else ""),
            r["ops"]) + "\n" + item("params", r["params"])
        + ("\n" + item("architecture", f"{r['num_classes']} classes, {r['rounding']} channel rounding")
           if (r["num_classes"], r["rounding"]) != (1000, "torchvision") else "")
        for r in rows)
    table = Table((Col("name"), Col("unit"), Col("flops_per_mac", "int"), Col("num_classes", "int", show=str),
                   Col("rounding")), rows)
    return Document("conventions", {"conventions": rows}, "", [table], [text])


def published_document(checks, only_discrepancies: bool = False) -> Document:
    from ..conventions import CONVENTIONS
    from ..published import SOURCES
    records = []
    for c in checks:
        r, src = c.row, SOURCES[c.row.source]
        records.append({"source": r.source, "table": r.table, "model": r.model,
                        "config": {"alpha": r.alpha, "resolution": [r.resolution, r.resolution],
                                   "num_classes": r.classes},
                        "convention": CONVENTIONS[src.convention].ref(), "macs_published": r.million_macs,
                        "macs": c.macs, "macs_printed": c.macs_printed, "macs_ok": c.macs_ok,
                        "params_published": r.million_params, "params": c.params,
                        "params_printed": c.params_printed, "params_ok": c.params_ok, "top1": fraction(r.top1),
                        "status": "reproduced" if c.ok else "discrepancy", "causes": list(c.causes),
                        "note": r.note or None})
    shown = [rec for rec in records if rec["status"] != "reproduced"] if only_discrepancies else records
    rows = [{**flat(rec), "source": SOURCES[rec["source"]].short,
             "published": f"{rec['macs_published']} / {rec['params_published']}",
             "flopcalc": f"{rec['macs_printed']} / {rec['params_printed']}" if rec["macs"] is not None else "",
             "check": "ok" if rec["status"] == "reproduced" else "DISCREPANCY"} for rec in shown]
    cols = (Col("source"), Col("table"), Col("model"), Col("alpha", "multiplier"),
            Col("resolution", "resolution"), Col("num_classes", "int", show=str), Col("convention"),
            Col("published"), Col("flopcalc"), Col("check"))
    n_bad = sum(rec["status"] != "reproduced" for rec in records)
    lines = [f"{len(records) - n_bad} of {len(records)} published rows reproduced exactly at their printed "
             f"precision (millions of macs / millions of params), each under its source's convention; "
             f"{n_bad} discrepancies:"]
    for rec in records:
        if rec["status"] != "reproduced":
            lines.append(f"- {SOURCES[rec['source']].short} {rec['table']}, {rec['model']} {rec['config']['alpha']:g} "
                         f"{rec['config']['resolution'][0]}: printed {rec['macs_published']} / "
                         f"{rec['params_published']}"
                         + (f", flopcalc {rec['macs']:,} / {rec['params']:,}" if rec["macs"] is not None else "")
                         + ". " + "; ".join(rec["causes"]) + (f". Source note: {rec['note']}" if rec["note"] else ""))
    past = {"round": "rounded", "truncate": "truncated"}
    rules = "how each source prints (millions, to the digits it shows): " + "; ".join(
        f"{s.short}: {s.convention} convention, macs {past[s.macs]}, params {past[s.params]}"
        for s in SOURCES.values())
    csv_cols = (Col("source"), Col("table"), Col("model"), Col("alpha", "float", digits=2),
                Col("resolution", "shape"), Col("num_classes", "int"), Col("convention"), Col("macs_published"),
                Col("macs", "int"), Col("macs_printed"), Col("macs_ok"), Col("params_published"),
                Col("params", "int"), Col("params_printed"), Col("params_ok"), Col("top1", "float", digits=5),
                Col("status"))
    return Document("published", {"rows": shown, "reproduced": len(records) - n_bad, "discrepancies": n_bad},
                    "", [Table(cols, rows)], ["\n".join(lines), rules],
                    csv_table=Table(csv_cols, [flat(rec) for rec in shown]))

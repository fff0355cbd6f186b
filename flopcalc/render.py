"""The analytical commands' output (``table``, ``separable``, ``models``) as Documents.

Numbers stay exact ints until :mod:`flopcalc.output` shows them; every command's JSON
follows ``flopcalc/schema.json``.
"""

from __future__ import annotations

import math

from .analyze import Analysis, LayerRow, Separable
from .costs import KINDS
from .output import Col, Document, Table, count_text, pct, shape_str, share, si
from .spec import (Activation, ChannelScale, Conv2d, ConvBNAct, DepthwiseSeparable, Dropout, GlobalAvgPool,
                   InvertedResidual, Linear, MBConv, SqueezeExcite)

MACS_NOTE = ("macs: multiply-adds of conv and fully connected layers (the papers' Mult-Adds;\n"
             "  batch norm folded into the conv; activations, pooling and adds are free).")
PARAMS_NOTE = ("params: every learnable parameter (weights, biases, batch-norm gamma and beta),\n"
               "  what sum(p.numel() for p in model.parameters()) gives.")

ACT_NAMES = {"relu": "ReLU", "relu6": "ReLU6", "identity": "Identity", "hardswish": "Hardswish",
             "hardsigmoid": "Hardsigmoid", "silu": "SiLU", "sigmoid": "Sigmoid"}


def _conv_op(s: Conv2d) -> str:
    text = f"{s.kernel}x{s.kernel}/{s.stride}"
    if s.groups > 1:
        text += f" g={s.groups}"
    if s.dilation > 1:
        text += f" d={s.dilation}"
    return text


def detail(row: LayerRow) -> str:
    """What a layer (or block) is, compactly: ``3x3/2 g=32`` for a conv."""
    s = row.spec
    if isinstance(s, Conv2d):
        return _conv_op(s)
    if isinstance(s, Linear):
        return f"{s.in_features}->{s.out_features}"
    if isinstance(s, Activation):
        return ACT_NAMES[s.fn.value]
    if isinstance(s, Dropout):
        return f"p={s.p:g}"
    if isinstance(s, ConvBNAct):
        op = f"{s.kernel}x{s.kernel}/{s.stride}" + (f" g={s.groups}" if s.groups > 1 else "")
        return op + (f" {ACT_NAMES[s.act.value]}" if s.act else "")
    if isinstance(s, DepthwiseSeparable):
        return f"dw {s.kernel}x{s.kernel}/{s.stride} + pw"
    if isinstance(s, InvertedResidual):
        return f"t={s.expand_ratio:g} {s.kernel}x{s.kernel}/{s.stride}" + (" +skip" if s.residual else "")
    if isinstance(s, MBConv):
        return (f"exp={s.hidden} {s.kernel}x{s.kernel}/{s.stride} {ACT_NAMES[s.act.value]}"
                + (" SE" if s.se else "") + (" +skip" if s.residual else ""))
    if isinstance(s, SqueezeExcite):
        return f"{s.channels}->{s.squeeze}->{s.channels}"
    if isinstance(s, ChannelScale):
        return "x gate"
    if isinstance(s, GlobalAvgPool) and s.keepdim:
        return "keepdim"
    return ""


def describe(a: Analysis) -> str:
    c = a.config
    parts = [a.model]
    if "alpha" in c:
        parts.append(f"alpha={c['alpha']:g}")
    parts.append(f"input={shape_str(a.input_shape)}")
    if "num_classes" in c:
        parts.append(f"classes={c['num_classes']}")
    if c.get("batch", 1) != 1:
        parts.append(f"batch={c['batch']}")
    if a.convention != "pytorch":
        parts.append(f"convention={a.convention}")
    return "  ".join(parts)


def layer_cols(key: str = "macs") -> tuple[Col, ...]:
    return (Col("name"), Col("kind"), Col("op"), Col("input_shape", "shape"), Col("output_shape", "shape"),
            Col("params", "int"), Col(key, "int"), Col(f"{key}_share", "pct", csv=False))


def ops_key(a: Analysis) -> tuple[str, int]:
    """The key an analysis's operation count goes under, and the factor from its multiply-add
    units: ``("macs", 1)``, or under a counter that charges more, its name (``("fvcore_flops", 1)``,
    ``("flop_counter_flops", 2)``)."""
    c = _convention(a)
    return c.key, c.flops_per_mac


def _ops(value: int | None, factor: int) -> int | None:
    return None if value is None else value * factor


def layer_record(r: LayerRow, key: str = "macs", factor: int = 1) -> dict:
    """A row as the schema's ``layer``: the keys every command uses."""
    return {"name": r.name, "kind": r.kind, "op": detail(r), "input_shape": list(r.input_shape),
            "output_shape": list(r.output_shape), "params": r.params, key: _ops(r.macs, factor)}


def config_record(config: dict) -> dict:
    """An analysis's config as every command's JSON gives it (the convention is named apart)."""
    return {k: v for k, v in config.items() if k != "convention"}


def totals_table(a: Analysis) -> Table:
    t = a.total
    key, f = ops_key(a)
    rows = [{"kind": k, "description": KINDS.get(k, k), key: _ops(v.macs, f), f"{key}_share": share(v.macs, t.macs),
             "params": v.params, "params_share": share(v.params, t.params)}
            for k, v in a.by_kind.items() if v.macs or v.params]
    rows.append({"kind": "total", "description": "", key: _ops(t.macs, f), f"{key}_share": share(t.macs, t.macs),
                 "params": t.params, "params_share": share(t.params, t.params)})
    cols = (Col("kind"), Col("description"), Col(key, "int"), Col(f"{key}_share", "pct", csv=False),
            Col("params", "int"), Col("params_share", "pct", csv=False))
    return Table(cols, rows)


def summary(a: Analysis) -> str:
    t = a.total
    key, f = ops_key(a)
    if t.macs is None:
        ops = "no operation count"
    else:
        ops = f"{t.macs * f:,} {_convention(a).label} ({si(t.macs * f)})"
    params = "no parameter count" if t.params is None else f"{t.params:,} params ({si(t.params)})"
    return f"total: {ops}, {params}"


def _convention(a: Analysis):
    from .conventions import CONVENTIONS
    return CONVENTIONS[a.convention]


def counting_note(a: Analysis) -> str:
    """What the totals count: flopcalc's own rule, or the convention's."""
    if a.convention == "pytorch":
        return MACS_NOTE + "\n" + PARAMS_NOTE
    import textwrap
    c = _convention(a)
    def wrap(head: str, text: str) -> str:
        return textwrap.fill(f"{head}: {text}", 96, subsequent_indent="  ", break_on_hyphens=False)

    unit = "" if not c.unit else f" (the tool's {c.unit}" + (
        f", {c.flops_per_mac} per multiply-add)" if c.flops_per_mac != 1 else ")")
    return "\n".join([wrap(f"convention {c.name}", c.source + "."), wrap(f"{c.key}{unit}", c.ops_rule),
                      wrap("params", c.params_rule)])


MEMORY_COLS = (Col("bytes_read", "int"), Col("bytes_written", "int"), Col("intensity", "float", digits=2))


def table_document(a: Analysis, rows: list[LayerRow] | None = None, *, totals_only: bool = False,
                   shown: str = "", memory=None) -> Document:
    """``flopcalc table``: the layer rows (or ``rows``: blocks, the top N), then the totals
    by kind. ``totals_only`` prints the totals table alone (what ``--totals`` writes as CSV);
    ``memory`` (a :class:`~flopcalc.memory.Memory`) adds each layer's traffic."""
    rows = list(a.layers) if rows is None else rows
    key, factor = ops_key(a)
    records = [layer_record(r, key, factor) for r in rows]
    if memory is not None:
        traffic = {t.name: t for t in memory.layers}
        for rec in records:
            t = traffic.get(rec["name"])
            if t is None:  # a block row: the sum of its layers
                part = [x for x in memory.layers if x.name.startswith(rec["name"] + ".")]
                read, written = sum(x.bytes_read for x in part), sum(x.bytes_written for x in part)
            else:
                read, written = t.bytes_read, t.bytes_written
            macs = (rec[key] or 0) / factor  # intensity is multiply-adds per byte whatever the counter
            rec.update(bytes_read=read, bytes_written=written,
                       intensity=macs / (read + written) if read + written else 0.0)
    from .conventions import CONVENTIONS
    data = {"model": a.model, "config": config_record(a.config), "convention": CONVENTIONS[a.convention].ref(),
            "layers": records, "total": {"params": a.total.params, key: _ops(a.total.macs, factor)},
            "by_kind": {k: {"params": t.params, key: _ops(t.macs, factor)} for k, t in a.by_kind.items()}}
    totals = totals_table(a)
    notes = [summary(a) + "\n" + counting_note(a)]
    if memory is not None:
        data["memory"] = {"dtype": memory.dtype, "bytes_per_value": memory.bytes_per_value,
                          "bytes_read": memory.bytes_read, "bytes_written": memory.bytes_written,
                          "peak_activation_bytes": memory.peak_bytes, "peak_at": memory.peak_at}
        moved = memory.bytes_read + memory.bytes_written
        notes.append(f"memory ({memory.dtype}, {memory.bytes_per_value} bytes a value): "
                     f"{count_text(memory.bytes_read, 'byte')} read, {count_text(memory.bytes_written, 'byte')} "
                     f"written; {a.total.macs / moved:.2f} multiply-adds per byte; peak activation memory "
                     f"{count_text(memory.peak_bytes, 'byte')} at {memory.peak_at}\n"
                     "bytes_read: input activations (the block input too for an add or a scale) and stored values "
                     "(weights, biases, batch-norm statistics); bytes_written: the output; intensity: macs per "
                     "byte. Peak: each layer's input and output, and the block inputs still waiting for their "
                     "residual add, alive at once.")
    if totals_only:
        return Document("table", data, describe(a), [totals], notes)
    # the share is for people: tables show it, JSON and CSV leave it to be derived
    cols = layer_cols(key) + (MEMORY_COLS if memory is not None else ())
    layers = Table(cols, [{**rec, f"{key}_share": share(rec[key], _ops(a.total.macs, factor))} for rec in records],
                   shown)
    return Document("table", data, describe(a), [layers, totals], notes)


def separable_document(s: Separable, alpha: float = 1.0, rho: float = 1.0) -> Document:
    k, m, n = s.kernel, s.in_c, s.out_c
    x, y = [m, s.size, s.size], [n, s.out_size, s.out_size]
    dw_out = [m, s.out_size, s.out_size]
    parts = [
        ("standard", "conv", f"{k}x{k}/{s.stride}", x, y, s.standard),
        ("depthwise", "depthwise", f"{k}x{k}/{s.stride} g={m}", x, dw_out, s.depthwise),
        ("pointwise", "pointwise", "1x1/1", dw_out, y, s.pointwise),
        ("separable", "separable", "depthwise + pointwise", x, y, s.separable),
    ]
    std = s.standard.macs
    from fractions import Fraction
    rows = [{"name": name, "kind": kind, "op": op, "input_shape": i, "output_shape": o,
             "params": t.params, "macs": t.macs, "ratio": t.macs / std, "ratio_exact": str(Fraction(t.macs, std))}
            for name, kind, op, i, o, t in parts]
    cols = (Col("name"), Col("kind"), Col("op"), Col("input_shape", "shape"), Col("output_shape", "shape"),
            Col("params", "int"), Col("macs", "int"), Col("ratio", "float"), Col("ratio_exact"))
    data = {"config": {"kernel": k, "in_channels": m, "out_channels": n, "size": s.size, "stride": s.stride,
                       "alpha": alpha, "rho": rho},
            "output_size": s.out_size,
            "layers": rows,
            "ratio": float(s.ratio), "ratio_exact": str(s.ratio),
            "closed_form": float(s.closed_form), "closed_form_exact": str(s.closed_form)}
    scaled = ", ".join(t for t in (f"alpha={alpha:g}" if alpha != 1 else "", f"rho={rho:g}" if rho != 1 else "")
                       if t)
    where = (f"D_K={k}, M={m}, N={n}, D_F={s.size}" + (f", stride {s.stride}" if s.stride > 1 else "")
             + f" -> {s.out_size}x{s.out_size} output" + (f" ({scaled} applied)" if scaled else ""))
    notes = [f"ratio separable / standard: {float(s.ratio):.4f} ({s.ratio})\n"
             f"closed form 1/N + 1/D_K^2:   {float(s.closed_form):.4f} ({s.closed_form})"]
    return Document("separable", data, where, [Table(cols, rows)], notes)


def models_document(models, options: str) -> Document:
    rows = [{"name": m.name, "title": m.title, "source": m.source} for m in models]
    return Document("models", {"models": rows}, "", [Table((Col("name"), Col("title"), Col("source")), rows)],
                    [options])


__all__ = ["count_text", "detail", "describe", "layer_record", "models_document", "pct", "separable_document",
           "summary", "table_document", "totals_table"]


# ---------------------------------------------------------------------------- reconcile

RECONCILE_REASONS = ("classes", "rounding", "bias", "batchnorm", "activation", "pool", "add", "flops")


def _config_text(a: Analysis) -> str:
    c = a.config
    h, w = c["resolution"]
    return f"{a.model}  alpha={c['alpha']:g}  input={shape_str(a.input_shape)}  classes={c['num_classes']}"


def reconcile_document(r, live: dict | None = None) -> Document:
    """``flopcalc reconcile``: every convention's numbers beside the default's, the difference
    split by reason; with ``live`` (convention -> (params, reported) measured, or None when the
    tool is not installed) the tools' own numbers beside."""
    from .reconcile import REASON_TEXT
    base = r.base
    ops_rows, param_rows, records = [], [], []
    for line in r.lines:
        c = line.convention
        rec = {"name": c.name, "unit": c.unit or None, "flops_per_mac": c.flops_per_mac,
               "num_classes": line.num_classes, "params": line.params, "reported": line.reported,
               "params_difference": line.params_causes and {k: line.params_causes[k] for k in RECONCILE_REASONS
                                                             if k in line.params_causes},
               "ops_difference": line.ops_causes and {k: line.ops_causes[k] for k in RECONCILE_REASONS
                                                       if k in line.ops_causes}}
        if live is not None and c.live:
            got = live.get(c.name)
            if got is None:
                rec["live"] = None
            else:
                ok = all(m is None or m == e for m, e in ((got[0], line.params), (got[1], line.reported)))
                rec["live"] = {"params": got[0], "reported": got[1], "ok": ok}
        records.append(rec)

        def check(i: int, expected) -> tuple:
            if live is None or not c.live or expected is None:
                return None, ""
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
    param_reasons = [k for k in ("classes", "rounding", "bias", "batchnorm") if k in used(param_rows) or k in
                     ("bias", "batchnorm")]
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
        missing = [rec["name"] for rec in records if "live" in rec and rec["live"] is None]
        ran = sum(1 for rec in records if rec.get("live"))
        notes.append(f"live: {ran} counters ran on the model; " + (
            f"{len(bad)} DIFFER from the prediction: {', '.join(bad)}" if bad else "every one printed exactly "
            "the predicted numbers") + (f"; not installed: {', '.join(missing)}" if missing else ""))
    data = {"model": base.model, "config": config_record(base.config), "conventions": records}
    return Document("reconcile", data, _config_text(base), [ops_table, param_table], notes)


def conventions_document() -> Document:
    from .conventions import CONVENTIONS
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


# ---------------------------------------------------------------------------- published, sweep

def fraction(percent: float | None) -> float | None:
    """A published top-1 as printed (70.6, a percentage) as the fraction every command's JSON uses."""
    return None if percent is None else round(percent / 100, 8)


def flat(rec: dict) -> dict:
    """A JSON record with its config and convention spread into table (and CSV) columns."""
    out = {k: v for k, v in rec.items() if k not in ("config", "convention")}
    out.update(rec.get("config", {}))
    if isinstance(rec.get("convention"), dict):
        out["convention"] = rec["convention"]["name"]
    return out


def published_document(checks, only_discrepancies: bool = False) -> Document:
    from .conventions import CONVENTIONS
    from .published import SOURCES
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
    cols = (Col("source"), Col("table"), Col("model"), Col("alpha", show=lambda v: f"{v:g}"),
            Col("resolution", show=lambda v: str(v[0])), Col("num_classes", "int", show=str), Col("convention"),
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


# top-1 is a fraction in JSON and CSV, shown as a percentage
TOP1_COL = Col("top1", show=lambda v: f"{100 * v:.1f}%")


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
    from .conventions import CONVENTIONS
    from .published import SOURCES
    conv = CONVENTIONS[convention]
    key = conv.key
    recs = [point_record(p, key) for p in points]
    rows = [flat(rec) for rec in recs]
    res = lambda v: str(v[0]) if v[0] == v[1] else f"{v[0]}x{v[1]}"  # noqa: E731
    cols = [Col("model"), Col("alpha", show=lambda v: f"{v:g}"), Col("resolution", "shape", show=res),
            Col("params", "int"), Col(key, "int"), TOP1_COL, Col("top1_source", show=lambda v: SOURCES[v].short)]
    csv_cols = (Col("model"), Col("alpha", "float"), Col("resolution", "shape"), Col("num_classes", "int"),
                Col("params", "int"), Col(key, "int"), Col("top1", "float", digits=5), Col("top1_source"))
    heading = f"{points[0].model}  classes={points[0].num_classes}" + (
        f"  convention={convention}" if convention != "pytorch" else "")
    note = ("top1: published ImageNet top-1 of the config's published checkpoint, quoted, never recomputed "
            "(TF-Slim's checkpoint tables, torchvision's weights); blank where none was published.")
    return Document("sweep", {"model": points[0].model, "convention": conv.ref(), "configs": recs}, heading,
                    [Table(cols, rows)], [note], csv_table=Table(csv_cols, rows))


def budget_document(points, macs, params, near_target=None, fits=None, convention: str = "pytorch") -> Document:
    from .conventions import CONVENTIONS
    from .published import SOURCES
    conv = CONVENTIONS[convention]
    key = conv.key
    res = lambda v: str(v[0]) if v[0] == v[1] else f"{v[0]}x{v[1]}"  # noqa: E731
    if fits is not None:
        recs = [point_record(f.point, key, f.distance) for f in fits]
    else:
        recs = [point_record(p, key, None) for p in points]
    rows = [flat(rec) for rec in recs]
    cols = [Col("model"), Col("alpha", show=lambda v: f"{v:g}"), Col("resolution", "shape", show=res),
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


# ----------------------------------------------------------------------------- latency

def _ms(v):
    return None if v is None else v * 1e3


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
        krows = [{"kind": k, "median_error": v} for k, v in fit.get("kernel_median_error", {}).items()]
        tables.append(Table([Col("kind"), Col("median_error", "pct")], krows,
                            title="per-kind model, median |error| on its own samples"))
        notes.append(f"calibrated on {fit.get('kernel_samples')} random layers and {fit.get('networks')} off-grid "
                     f"networks (median |error| {100 * fit.get('network_median_error', 0):.1f}% on those networks)")
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
    h, w = main.resolution
    run_rows = [{"backend": r.backend, "mode": r.mode, "measured_ms": _ms(r.measured_s),
                 "images_per_second": r.images_per_second, "fraction_of_peak": fraction_of_peak(r, machine),
                 "speedup": eager.measured_s / r.measured_s if eager else None} for r in runs]
    layers = [{"name": x["name"], "kind": x["kind"], "macs": x["macs"], "bytes": x["bytes"], "bound": x["bound"],
               "measured_ms": _ms(x["measured_s"]), "roofline_ms": _ms(x["roofline_s"]),
               "predicted_ms": _ms(x["predicted_s"])} for x in main.layers]
    data = {"model": main.model, "config": main.config, "threads": main.threads,
            "machine": machine_summary(machine), "macs": main.macs,
            "measured_ms": _ms(main.measured_s), "predicted_ms": _ms(main.predicted_s),
            "roofline_ms": _ms(main.roofline_s), "images_per_second": main.images_per_second,
            "fraction_of_peak": fraction_of_peak(main, machine), "rank_correlation": main.rank_correlation,
            "rank_correlation_calibrated": main.rank_correlation_calibrated, "runs": run_rows, "layers": layers}
    cols = [Col("backend"), Col("mode"), Col("measured_ms", "float", digits=2),
            Col("images_per_second", "float", digits=1), Col("fraction_of_peak", "pct")]
    if eager:
        cols.append(Col("speedup", "float", digits=2, show=lambda v: f"{v:.2f}x"))
    tables = [Table(cols, run_rows)]
    res = str(h) if h == w else f"{h}x{w}"
    heading = (f"{main.model} alpha {main.alpha:g} at {res}, batch {main.batch}, {main.threads} threads: "
               f"{main.images_per_second:,.1f} images/s")
    notes = [f"whole model: measured {_ms(main.measured_s):.2f} ms"
             + (f", predicted {_ms(main.predicted_s):.2f} ms ({100 * (main.predicted_s / main.measured_s - 1):+.1f}%)"
                if main.predicted_s else "")
             + (f", roofline {_ms(main.roofline_s):.2f} ms" if main.roofline_s else "")
             + f"; {100 * fraction_of_peak(main, machine):.1f}% of this machine's matmul peak "
               f"({machine.peak_flops / 1e9:.0f} GFLOP/s)"]
    if layers:
        lay_cols = [Col("name"), Col("kind"), Col("macs", "int"), Col("bytes", "int"), Col("bound"),
                    Col("measured_ms", "float", digits=3), Col("predicted_ms", "float", digits=3),
                    Col("roofline_ms", "float", digits=3)]
        tables.append(Table(lay_cols, layers, title="per layer"))
        key = "predicted_ms" if main.rank_correlation_calibrated is not None else "roofline_ms"
        worst = sorted(layers, key=lambda x: -abs(math.log(x[key] / x["measured_ms"])))[:top]
        tables.append(Table([Col("name"), Col("kind"), Col("measured_ms", "float", digits=3),
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


def grid_document(results, machine, predicted: bool = True, load=None) -> Document:
    recs = [{"model": r.model, "config": r.config,
             "measured_ms": _ms(r.measured_s), "predicted_ms": _ms(r.predicted_s) if predicted else None,
             "error": (r.predicted_s / r.measured_s - 1) if predicted and r.predicted_s else None,
             "images_per_second": r.images_per_second} for r in results]
    rows = [flat(rec) for rec in recs]
    summary = grid_summary(results) if predicted else []
    cols = [Col("model"), Col("alpha", show=lambda v: f"{v:g}"), Col("resolution", show=lambda v: str(v[0])),
            Col("batch", "int"), Col("measured_ms", "float", digits=2)]
    if predicted:
        cols += [Col("predicted_ms", "float", digits=2), Col("error", show=lambda v: f"{100 * v:+.1f}%")]
    cols.append(Col("images_per_second", "float", digits=1))
    tables = [Table(cols, rows)]
    if summary:
        tables.append(Table([Col("batch", "int"), Col("configs", "int"), Col("within_15", "pct"),
                             Col("median_abs_error", "pct"), Col("max_abs_error", "pct")], summary,
                            title="predicted against measured, whole model"))
    data = {"machine": machine_summary(machine), "threads": results[0].threads if results else None,
            "configs": recs, "summary": summary}
    notes = ["measured: the optimized model (batch norm folded, channels-last), median of repeats; "
             "predicted: from the machine profile alone, without running the model"]
    if load is not None:
        data["load"] = load.to_json()
        notes.append(load_note(load))
    return Document("bench", data, f"the verify grid on this machine ({machine.describe()})", tables, notes)


def export_document(source: str, a, path, size: int, graph: dict, expected_macs: int, batch) -> Document:
    h, w = a.config["resolution"]
    total = sum(graph.values())
    data = {"model": source, "config": {**config_record(a.config), "batch": batch}, "onnx": str(path),
            "bytes": size, "opset": 17, "nodes": len(graph),
            "graph_macs": total, "macs": expected_macs, "equal": total == expected_macs}
    rows = [{"check": "Conv and Gemm nodes", "value": f"{len(graph)}"},
            {"check": "macs from the graph's own shapes", "value": f"{total:,}"},
            {"check": "macs from the analyzer", "value": f"{expected_macs:,}"},
            {"check": "equal", "value": "yes" if total == expected_macs else "NO"}]
    res = str(h) if h == w else f"{h}x{w}"
    heading = (f"wrote {path} ({data['bytes']:,} bytes, opset 17, batch {batch if batch else 'dynamic'}): "
               f"{source} alpha {a.config['alpha']:g} at {res}")
    return Document("export", data, heading, [Table([Col("check"), Col("value")], rows)])


def report_document(paths, out, missing=()) -> Document:
    from pathlib import Path
    rows = [{"file": str(Path(p).relative_to(out)), "bytes": Path(p).stat().st_size} for p in paths]
    notes = [f"not recorded yet under {out}/data and {out}/experiments: {', '.join(missing)}; their sections say so. "
             f"flopcalc report --out {out} --record STEP,... runs and records verify, reconcile, train and bench "
             f"(minutes; bench wants flopcalc machine first, on a quiet machine); flopcalc experiment NAME --out "
             f"{out}/experiments/NAME the experiments"] if missing else []
    return Document("report", {"out": str(out), "files": rows, "not_recorded": list(missing)},
                    f"wrote {len(rows)} files under {out}", [Table([Col("file"), Col("bytes", "int")], rows)], notes)

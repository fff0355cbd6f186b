"""The analytical commands' output (``table``, ``separable``, ``models``) as Documents.

Numbers stay exact ints until :mod:`flopcalc.output` shows them; every command's JSON
follows ``flopcalc/schema.json``.
"""

from __future__ import annotations

from .analyze import Analysis, LayerRow, Separable
from .costs import KINDS
from .output import Col, Document, Table, count_text, pct, shape_str, share, si
from .spec import Activation, Conv2d, ConvBNAct, DepthwiseSeparable, Dropout, InvertedResidual, Linear

MACS_NOTE = ("macs: multiply-adds of conv and fully connected layers (the papers' Mult-Adds;\n"
             "  batch norm folded into the conv; activations, pooling and adds are free).")
PARAMS_NOTE = ("params: every learnable parameter (weights, biases, batch-norm gamma and beta),\n"
               "  what sum(p.numel() for p in model.parameters()) gives.")

ACT_NAMES = {"relu": "ReLU", "relu6": "ReLU6", "identity": "Identity"}


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
    return "  ".join(parts)


LAYER_COLS = (Col("name"), Col("kind"), Col("op"), Col("input_shape", "shape"), Col("output_shape", "shape"),
              Col("params", "int"), Col("macs", "int"), Col("macs_share", "pct", csv=False))
KIND_COLS = (Col("kind"), Col("description"), Col("macs", "int"), Col("macs_share", "pct", csv=False),
             Col("params", "int"), Col("params_share", "pct", csv=False))


def layer_record(r: LayerRow) -> dict:
    """A row as the schema's ``layer``: the keys every command uses."""
    return {"name": r.name, "kind": r.kind, "op": detail(r), "input_shape": list(r.input_shape),
            "output_shape": list(r.output_shape), "params": r.params, "macs": r.macs}


def totals_table(a: Analysis) -> Table:
    t = a.total
    rows = [{"kind": k, "description": KINDS.get(k, k), "macs": v.macs, "macs_share": share(v.macs, t.macs),
             "params": v.params, "params_share": share(v.params, t.params)}
            for k, v in a.by_kind.items() if v.macs or v.params]
    rows.append({"kind": "total", "description": "", "macs": t.macs, "macs_share": share(t.macs, t.macs),
                 "params": t.params, "params_share": share(t.params, t.params)})
    return Table(KIND_COLS, rows)


def summary(a: Analysis) -> str:
    t = a.total
    return f"total: {t.macs:,} macs ({si(t.macs)}), {t.params:,} params ({si(t.params)})"


def table_document(a: Analysis, rows: list[LayerRow] | None = None, *, totals_only: bool = False,
                   shown: str = "") -> Document:
    """``flopcalc table``: the layer rows (or ``rows``: blocks, the top N), then the totals
    by kind. ``totals_only`` prints the totals table alone (what ``--totals`` writes as CSV)."""
    rows = list(a.layers) if rows is None else rows
    records = [layer_record(r) for r in rows]
    data = {"model": a.model, "config": dict(a.config), "layers": records,
            "total": {"params": a.total.params, "macs": a.total.macs},
            "by_kind": {k: {"params": t.params, "macs": t.macs} for k, t in a.by_kind.items()}}
    totals = totals_table(a)
    notes = [summary(a) + "\n" + MACS_NOTE + "\n" + PARAMS_NOTE]
    if totals_only:
        return Document("table", data, describe(a), [totals], notes)
    # the share is for people: tables show it, JSON and CSV leave it to be derived
    layers = Table(LAYER_COLS, [dict(rec, macs_share=share(rec["macs"], a.total.macs)) for rec in records], shown)
    return Document("table", data, describe(a), [layers, totals], notes)


def separable_document(s: Separable) -> Document:
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
    data = {"config": {"kernel": k, "in_channels": m, "out_channels": n, "size": s.size, "stride": s.stride},
            "output_size": s.out_size,
            "layers": rows,
            "ratio": float(s.ratio), "ratio_exact": str(s.ratio),
            "closed_form": float(s.closed_form), "closed_form_exact": str(s.closed_form)}
    where = (f"D_K={k}, M={m}, N={n}, D_F={s.size}" + (f", stride {s.stride}" if s.stride > 1 else "")
             + f" -> {s.out_size}x{s.out_size} output")
    notes = [f"ratio separable / standard: {float(s.ratio):.4f} ({s.ratio})\n"
             f"closed form 1/N + 1/D_K^2:   {float(s.closed_form):.4f} ({s.closed_form})"]
    return Document("separable", data, where, [Table(cols, rows)], notes)


def models_document(models, options: str) -> Document:
    rows = [{"name": m.name, "title": m.title, "source": m.source} for m in models]
    return Document("models", {"models": rows}, "", [Table((Col("name"), Col("title"), Col("source")), rows)],
                    [options])


__all__ = ["count_text", "detail", "describe", "layer_record", "models_document", "pct", "separable_document",
           "summary", "table_document", "totals_table"]

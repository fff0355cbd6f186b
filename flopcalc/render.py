"""Text, Markdown, CSV and JSON views of an analysis. Numbers stay ints until here."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from .analyze import Analysis, LayerRow, Separable
from .costs import KINDS
from .spec import Activation, Conv2d, Dropout, Linear

MADDS_NOTE = ("MAdds: multiply-adds of conv and fully connected layers (the papers' Mult-Adds;\n"
              "  batch norm folded into the conv; activations, pooling and adds are free).")
PARAMS_NOTE = ("params: every learnable parameter (weights, biases, batch-norm gamma and beta),\n"
               "  what sum(p.numel() for p in model.parameters()) gives.")


def shape_str(shape: Sequence[int]) -> str:
    return "x".join(str(d) for d in shape)


def detail(row: LayerRow) -> str:
    """What the layer is, compactly: ``3x3/2 g=32`` for a conv."""
    s = row.spec
    if isinstance(s, Conv2d):
        text = f"{s.kernel}x{s.kernel}/{s.stride}"
        if s.groups > 1:
            text += f" g={s.groups}"
        if s.dilation > 1:
            text += f" d={s.dilation}"
        return text
    if isinstance(s, Linear):
        return f"{s.in_features}->{s.out_features}"
    if isinstance(s, Activation):
        return {"relu": "ReLU", "relu6": "ReLU6", "identity": "Identity"}[s.fn.value]
    if isinstance(s, Dropout):
        return f"p={s.p:g}"
    return ""


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}%" if whole and part else ""


def table_text(rows: list[list[Any]], headers: list[str], fmt: str, n_text: int) -> str:
    """Aligned columns: the first ``n_text`` left-aligned text, the rest right-aligned numbers.

    ``plain`` is tabulate's "simple" layout, ``github`` a Markdown pipe table. Written here
    rather than through tabulate: importing and running tabulate on a 150-row table took 13 ms
    of the 72 ms a whole `flopcalc table` process took (benchmarks/bench_analyzer.py); this
    takes under 1 ms.
    """
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(c) for c in col) for col in zip(headers, *cells)]
    if fmt == "github":
        widths = [max(w, 3) for w in widths]

    def line(row: list[str]) -> str:
        parts = [c.ljust(w) if i < n_text else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        return f"| {' | '.join(parts)} |" if fmt == "github" else "  ".join(parts).rstrip()

    if fmt == "github":
        rule = "|" + "|".join(("-" * (w + 1) + ":") if i >= n_text else (":" + "-" * (w + 1))
                              for i, w in enumerate(widths)) + "|"
    else:
        rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule] + [line(r) for r in cells])


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    import csv
    import io
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerows(rows)
    return buf.getvalue()


def json_text(obj: dict) -> str:
    """Indented JSON, except that each element of a top-level list (a layer) is one line."""
    import json
    parts = []
    for key, value in obj.items():
        if isinstance(value, list):
            inner = ",\n".join(f"    {json.dumps(e)}" for e in value)
            text = f"[\n{inner}\n  ]" if value else "[]"
        else:
            text = json.dumps(value, indent=2).replace("\n", "\n  ")
        parts.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def describe(a: Analysis) -> str:
    c = a.config
    parts = [a.model]
    if "alpha" in c:
        parts.append(f"alpha={c['alpha']:g}")
    parts.append(f"input={shape_str(a.input_shape)}")
    if "num_classes" in c:
        parts.append(f"classes={c['num_classes']}")
    return "  ".join(parts)


def analysis_json(a: Analysis) -> dict:
    return {
        "model": a.model,
        "config": dict(a.config),
        "layers": [{"name": r.name, "kind": r.kind, "input_shape": list(r.input_shape),
                    "output_shape": list(r.output_shape), "params": r.params, "macs": r.macs}
                   for r in a.layers],
        "total": {"params": a.total.params, "macs": a.total.macs},
        "by_kind": {k: {"params": t.params, "macs": t.macs} for k, t in a.by_kind.items()},
    }


def render_table(a: Analysis, fmt: str) -> str:
    if fmt == "json":
        return json_text(analysis_json(a))
    if fmt == "csv":
        head = ["name", "kind", "layer", "input_shape", "output_shape", "params", "macs"]
        body = [[r.name, r.kind, detail(r), shape_str(r.input_shape), shape_str(r.output_shape),
                 r.params, r.macs] for r in a.layers]
        body.append(["total", "total", "", shape_str(a.input_shape),
                     shape_str(a.layers[-1].output_shape), a.total.params, a.total.macs])
        return csv_text([head] + body)

    t = a.total
    rows = [[r.name, r.kind, detail(r), shape_str(r.input_shape), shape_str(r.output_shape),
             f"{r.params:,}", f"{r.macs:,}", _pct(r.macs, t.macs)] for r in a.layers]
    rows.append(["total", "", "", shape_str(a.input_shape), shape_str(a.layers[-1].output_shape),
                 f"{t.params:,}", f"{t.macs:,}", "100.00%"])
    layers = table_text(rows, ["layer", "kind", "op", "input", "output", "params", "MAdds", "MAdds %"], fmt, 5)
    kinds = table_text([[KINDS[k], f"{v.macs:,}", _pct(v.macs, t.macs), f"{v.params:,}",
                     _pct(v.params, t.params)] for k, v in a.by_kind.items() if v.macs or v.params],
                   ["kind", "MAdds", "MAdds %", "params", "params %"], fmt, 1)
    summary = (f"total: {t.macs:,} MAdds ({t.macs / 1e6:.2f} M), "
               f"{t.params:,} params ({t.params / 1e6:.2f} M)")
    if fmt == "github":
        notes = "\n".join(f"- {n.replace(chr(10) + '  ', ' ')}" for n in (MADDS_NOTE, PARAMS_NOTE))
        return f"**{describe(a)}**\n\n{layers}\n\n{kinds}\n\n{summary}\n\n{notes}\n"
    return f"{describe(a)}\n\n{layers}\n\n{kinds}\n\n{summary}\n{MADDS_NOTE}\n{PARAMS_NOTE}\n"


def separable_json(s: Separable) -> dict:
    return {
        "standard": {"params": s.standard.params, "macs": s.standard.macs},
        "separable": {"params": s.separable.params, "macs": s.separable.macs},
        "ratio": float(s.ratio),
        "closed_form": float(s.closed_form),
    }


def render_separable(s: Separable, fmt: str) -> str:
    if fmt == "json":
        return json_text(separable_json(s))
    k, m, n = s.kernel, s.in_c, s.out_c
    rows = [
        ["standard", f"{k}x{k}, {m}->{n}", s.standard.params, s.standard.macs],
        ["depthwise", f"{k}x{k}, {m} groups", s.depthwise.params, s.depthwise.macs],
        ["pointwise", f"1x1, {m}->{n}", s.pointwise.params, s.pointwise.macs],
        ["separable", "depthwise + pointwise", s.separable.params, s.separable.macs],
    ]
    if fmt == "csv":
        return csv_text([["conv", "shape", "params", "macs"]] + rows
                    + [["ratio", "", "", float(s.ratio)], ["closed_form", "", "", float(s.closed_form)]])
    table = table_text([r[:2] + [f"{r[2]:,}", f"{r[3]:,}"] for r in rows],
                   ["conv", "shape", "params", "MAdds"], fmt, 2)
    where = (f"D_K={k}, M={m}, N={n}, D_F={s.size}" + (f", stride {s.stride}" if s.stride > 1 else "")
             + f" -> {s.out_size}x{s.out_size} output")
    return (f"{where}\n\n{table}\n\n"
            f"ratio separable / standard: {float(s.ratio):.4f} ({s.ratio})\n"
            f"closed form 1/N + 1/D_K^2:   {float(s.closed_form):.4f} ({s.closed_form})\n")

"""``table``, ``separable`` and ``models`` as Documents: layers, blocks and totals."""

from __future__ import annotations

from ..walk import Analysis, LayerRow, Separable
from ..costs import KIND_DESCRIPTIONS, PRODUCT_KINDS
from ..output import Col, Document, Table, count_text, shape_str, share, si
from ..spec import (Activation, ChannelScale, Conv2d, ConvBNAct, ConvNormAct, DepthwiseSeparable, Dropout, FusedIB,
                    GlobalAvgPool, InvertedResidual, LayerScale, Linear, MBConv, MobileAttention, MobileMQA,
                    MultiQueryAttention, SqueezeExcite, UniversalInvertedBottleneck)
from ..operations import (AdaptivePool, Attention, ConvNd, Elementwise, Embedding, MatMul, Normalization, Pool2d,
                          Reduction)
from .records import config_record
from ..walk import DEFAULT_CONVENTION

MACS_NOTE = ("macs: multiply-adds of conv and fully connected layers (the papers' Mult-Adds;\n"
             "  batch norm folded into the conv; activations, pooling and adds are free).")
PRODUCTS_NOTE = "  And the products of attention (Q K^T, then the weights times V) and of matrix multiplies."


PARAMS_NOTE = ("params: every learnable parameter (weights, biases, batch-norm gamma and beta),\n"
               "  what sum(p.numel() for p in model.parameters()) gives.")


ACT_NAMES = {"relu": "ReLU", "relu6": "ReLU6", "identity": "Identity", "hardswish": "Hardswish",
             "hardsigmoid": "Hardsigmoid", "silu": "SiLU", "sigmoid": "Sigmoid", "gelu": "GELU"}


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
    if isinstance(s, ConvNormAct):
        return _conv_op(Conv2d(s.in_c, s.out_c, s.kernel, s.stride, groups=s.groups)) + (
            f" {ACT_NAMES[s.act.value]}" if s.act else "")
    if isinstance(s, UniversalInvertedBottleneck):  # dw 3x3, exp=480, dw 5x5/2: ExtraDW
        parts = ([f"dw {s.start_k}x{s.start_k}"] if s.start_k else []) + [f"exp={s.hidden}"] + (
            [f"dw {s.mid_k}x{s.mid_k}"] if s.mid_k else [])
        return ", ".join(parts) + f"/{s.stride}" + (" +skip" if s.residual else "")
    if isinstance(s, FusedIB):
        return f"{s.kernel}x{s.kernel}/{s.stride} exp={s.hidden}" + (" +skip" if s.residual else "")
    if isinstance(s, SqueezeExcite):
        return f"{s.channels}->{s.squeeze}->{s.channels}"
    if isinstance(s, MultiQueryAttention):  # heads x key width, one shared key and value head
        return f"{s.heads}x{s.key_dim} heads, 1 kv"
    if isinstance(s, (MobileAttention, MobileMQA)):
        heads = f"{s.heads}x{s.head_dim if isinstance(s, MobileAttention) else s.key_dim}"
        return f"mqa {heads}" + (f" kv/{s.kv_stride}" if s.kv_stride > 1 else "") + (
            " +skip" if isinstance(s, MobileAttention) and s.residual else "")
    if isinstance(s, LayerScale):
        return "x gamma"
    if isinstance(s, ChannelScale):
        return "x gate"
    if isinstance(s, GlobalAvgPool) and s.keepdim:
        return "keepdim"
    return _operation(s)


def _operation(s) -> str:
    """A recorded operation, compactly: ``1x7/1``, ``@ 12x64x197``, ``max 3x3/2``, ``gelu``, ``layer 768``."""
    if isinstance(s, ConvNd):
        stride = "x".join(map(str, s.stride)) if len(set(s.stride)) > 1 else str(s.stride[0])
        return ("T " if s.transposed else "") + "x".join(map(str, s.kernel)) + f"/{stride}" + (
            f" g={s.groups}" if s.groups > 1 else "")
    if isinstance(s, MatMul):
        return f"@ {shape_str(s.other)}"
    if isinstance(s, Attention):
        return f"sdpa S={s.key[-2]}"
    if isinstance(s, Normalization):
        return f"{s.kind} {s.channels}"
    if isinstance(s, Elementwise):
        return s.fn
    if isinstance(s, Pool2d):
        return f"{s.mode} {s.kernel}x{s.kernel}/{s.stride}" + (" ceil" if s.ceil else "")
    if isinstance(s, Reduction):
        return s.fn
    if isinstance(s, AdaptivePool):
        return f"adaptive {s.mode} to {shape_str(s.size)}"
    if isinstance(s, Embedding):
        return f"{s.num}x{s.dim}"
    return ""


def describe(a: Analysis) -> str:
    c = a.config
    parts = [a.model]
    if "alpha" in c:
        parts.append(f"alpha={c['alpha']:g}")
    if "depth_mult" in c:
        parts.append(f"depth_mult={c['depth_mult']:g}")
    parts.append(f"input={shape_str(a.input_shape)}")
    if "num_classes" in c:
        parts.append(f"classes={c['num_classes']}")
    if c.get("batch", 1) != 1:
        parts.append(f"batch={c['batch']}")
    if a.convention != DEFAULT_CONVENTION:
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


def totals_table(a: Analysis) -> Table:
    t = a.total
    key, f = ops_key(a)
    rows = [{"kind": k, "description": KIND_DESCRIPTIONS.get(k, k), key: _ops(v.macs, f),
             f"{key}_share": share(v.macs, t.macs), "params": v.params, "params_share": share(v.params, t.params)}
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
    from ..conventions import CONVENTIONS
    return CONVENTIONS[a.convention]


def counting_note(a: Analysis) -> str:
    """What the totals count: flopcalc's own rule, or the convention's."""
    if a.convention == DEFAULT_CONVENTION:
        products = any(k in a.by_kind for k in PRODUCT_KINDS)
        return MACS_NOTE + ("\n" + PRODUCTS_NOTE if products else "") + "\n" + PARAMS_NOTE
    import textwrap
    c = _convention(a)
    def wrap(head: str, text: str) -> str:
        return textwrap.fill(f"{head}: {text}", 96, subsequent_indent="  ", break_on_hyphens=False)

    unit = "" if not c.unit else f" (the tool's {c.unit}" + (
        f", {c.flops_per_mac} per multiply-add)" if c.flops_per_mac != 1 else ")")
    return "\n".join([wrap(f"convention {c.name}", c.source + "."), wrap(f"{c.key}{unit}", c.ops_rule),
                      wrap("params", c.params_rule)])


MEMORY_COLS = (Col("bytes_read", "int"), Col("bytes_written", "int"), Col("intensity", "float", digits=2))


def uncounted_note(uncounted: dict) -> str:
    """The operations a recorded module ran that have no formula here: named, never a silent zero."""
    def where(modules):
        shown = ", ".join(m or "(the model itself)" for m in modules[:3])
        return shown + (f" and {len(modules) - 3} more" if len(modules) > 3 else "")
    items = "; ".join(f"{op} x{u['calls']} in {where(u['modules'])}"
                      + (f" ({u['params']:,} params)" if u.get("params") else "") for op, u in uncounted.items())
    return (f"NOT COUNTED (no formula for these operations; the totals leave them out): {items}. "
            "table --strict exits 1 when any is left.")


def table_document(a: Analysis, rows: list[LayerRow] | None = None, *, totals_only: bool = False,
                   shown: str = "", memory=None, view: dict | None = None) -> Document:
    """``flopcalc table``: the layer rows (or ``rows``: blocks, the top N), then the totals
    by kind. ``totals_only`` prints the totals table alone (what ``--totals`` writes as CSV);
    ``memory`` (a :class:`~flopcalc.memory.Memory`) adds each layer's traffic; ``view`` (``{"depth": 2}``,
    ``{"top": 5}``) is recorded in the config."""
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
    from ..conventions import CONVENTIONS
    data = {"model": a.model, "config": {**config_record(a.config), **(view or {})},
            "convention": CONVENTIONS[a.convention].ref(),
            "layers": records, "total": {"params": a.total.params, key: _ops(a.total.macs, factor)},
            "by_kind": {k: {"params": t.params, key: _ops(t.macs, factor)} for k, t in a.by_kind.items()}}
    totals = totals_table(a)
    notes = [summary(a) + "\n" + counting_note(a)]
    if a.uncounted:
        data["uncounted"] = [{"op": op, **u} for op, u in a.uncounted.items()]
        notes.append(uncounted_note(a.uncounted))
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

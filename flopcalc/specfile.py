"""Spec files: a network of the MobileNet family written as its paper's table, in TOML.

A spec file is a :class:`~flopcalc.family.Family` (stem, one row per stage, head, width rule)
that any command taking a MODEL also takes as a path, and ``flopcalc.analyze`` as a Family:
counted, built, verified and trained exactly as the zoo's models are. ``flopcalc spec MODEL``
writes any zoo model in this format; :func:`read` gives a one-line :class:`SpecError` for
every way a file can be wrong (the file, the key or row, the value, what is accepted).

The format (every key but ``name``, ``stem``, ``stages`` and ``head`` may be left out)::

    name = "mobilenet_v2"            # the model's name in every output
    title = "MobileNet V2"
    source = "Sandler et al. 2018, MobileNetV2, Table 2"
    in_channels = 3
    alpha = 1.0                      # the width multiplier used unless --alpha is given
    divisor = 8                      # channels: make_divisible(c * alpha, divisor)
    round_expansion = false          # mbconv t expansions rounded with that rule too
    depth = 1.0                      # the depth multiplier used unless --depth-mult is given: ceil(n * depth)
    resolution = 224                 # the input used unless --resolution is given (kernels must fit it)
    layout = "flat"                  # module names: "flat" (features.N), "stages" (features.S.I), "mnasnet", "timm"

    stem = { c = 32, k = 3, s = 2, act = "relu6" }

    # block, k: kernel, t: expansion (or exp: expanded width), c: channels, n: repeats, s: stride
    stages = [
      { block = "inverted_residual", k = 3, t = 1, c = 16, n = 1, s = 1, act = "relu6" },
      { block = "inverted_residual", k = 3, t = 6, c = 24, n = 2, s = 2, act = "relu6" },
    ]

    head = { conv = 1280, conv_scale = "up", conv_act = "relu6", dropout = 0.2 }

    # MobileNetV4's rows: { block = "uib", a = 3, k = 5, t = 4, c = 80, s = 2 } (a: the depthwise kernel
    # before the expansion, k the middle one, 0 for none), { block = "fused_ib", k = 3, t = 4, c = 48 },
    # { block = "conv_bn_act", k = 3, c = 32, s = 2 }; any row may name its reference stage (stage = 2,
    # for layout "timm": blocks.2.I). The stem takes scale = "always" | "up" | "never" (V4: "up"), the
    # head hidden_conv = true (the hidden layer a 1x1 conv, batch norm and activation on the pooled map).
    # The hybrids' attention: { block = "mqa", heads = 4, key_dim = 64, kv_stride = 2, k = 3, c = 160 }
    # (key_dim left out: the channels over the heads, which must divide them; k: the depthwise kernel that
    # downsamples the keys and values when kv_stride > 1), and layer_scale = true at the top: every uib and
    # mqa block ends in a learned scale per channel.

    [se]                             # squeeze-and-excitation of mbconv rows with se = true
    reduction = 4                    # squeeze = make_divisible(base // reduction, divisor)
    of = "expanded"                  # base: the "expanded" or the block's "input" width
    divisor = 8
    act = "relu"
    gate = "hardsigmoid"

    [norm]
    eps = 1e-5
    momentum = 0.1
"""

from __future__ import annotations

import math
from dataclasses import fields, replace
from pathlib import Path

from .family import BLOCKS, LAYOUTS, MAX_DEPTH, SCALES, SE, Family, Head, Stage, Stem, repeats
from .spec import Act, Norm, SpecError
from .scaling import DEFAULT_RESOLUTION

ACTS = tuple(a.value for a in Act)
TOP_KEYS = ("name", "title", "source", "in_channels", "alpha", "divisor", "round_expansion", "depth", "resolution",
            "layout", "layer_scale", "stem", "stages", "head", "se", "norm")
ROW_KEYS = {
    "depthwise_separable": ("block", "k", "c", "n", "s", "act", "stage"),
    "inverted_residual": ("block", "k", "t", "c", "n", "s", "act", "residual", "stage"),
    "mbconv": ("block", "k", "t", "exp", "c", "n", "s", "se", "act", "residual", "stage"),
    "uib": ("block", "a", "k", "t", "c", "n", "s", "act", "residual", "stage"),
    "fused_ib": ("block", "k", "t", "c", "n", "s", "act", "residual", "stage"),
    "conv_bn_act": ("block", "k", "c", "n", "s", "act", "residual", "stage"),
    "mqa": ("block", "heads", "key_dim", "kv_stride", "k", "c", "n", "s", "residual", "stage"),
}


def looks_like_file(model: str) -> bool:
    """A MODEL argument that names a spec file rather than a zoo model."""
    return model.endswith(".toml") or "/" in model or "\\" in model


# ------------------------------------------------------------------------ reading


class _Reader:
    """Typed access to one file's values, each failure one line naming file, key and value."""

    def __init__(self, path: str):
        self.path = path

    def fail(self, where: str, message: str):
        raise SpecError(f"spec file {self.path!r}: {where}: {message}")

    def table(self, doc: dict, where: str, accepted) -> dict:
        if not isinstance(doc, dict):
            self.fail(where, f"must be a table, got {doc!r}")
        for key in doc:
            if key not in accepted:
                self.fail(f"{where}.{key}" if where else key,
                          f"unknown key; accepted: {', '.join(accepted)}")
        return doc

    def integer(self, doc: dict, key: str, where: str, minimum: int = 1, default=None):
        v = doc.get(key, default)
        if v is None:  # TOML has no null: the key is missing and has no default
            self.fail(where, f"{key} is required (an integer >= {minimum})")
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            self.fail(where, f"{key} must be an integer >= {minimum}, got {v!r}")
        return v

    def number(self, doc: dict, key: str, where: str, low: float, high: float | None, default):
        v = doc.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= low \
                or (high is not None and v >= high):
            span = f"> {low:g}" + (f" and < {high:g}" if high is not None else "")
            self.fail(where, f"{key} must be a finite number {span}, got {v!r}")
        return float(v)

    def string(self, doc: dict, key: str, where: str, default=None, choices=None):
        v = doc.get(key, default)
        if not isinstance(v, str) or (choices is not None and v not in choices):
            self.fail(where, f"{key} must be " + (f"one of {', '.join(choices)}" if choices else "a string")
                      + f", got {v!r}")
        return v

    def boolean(self, doc: dict, key: str, where: str) -> bool | None:
        """The key's true or false; None when it is missing."""
        v = doc.get(key)
        if not isinstance(v, bool) and v is not None:
            self.fail(where, f"{key} must be true or false, got {v!r}")
        return v

    def act(self, doc: dict, key: str, where: str, default: Act) -> Act:
        return Act(self.string(doc, key, where, default.value, ACTS))


def _toml():
    import sys
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib


def loads(text: str, name: str = "<spec>") -> Family:
    """The Family a spec file's text describes (``name`` for the messages)."""
    tomllib = _toml()
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"spec file {name!r} is not valid TOML: {e}") from None
    return parse(doc, name)


def read(path: str | Path) -> Family:
    """The Family a spec file describes, or a one-line SpecError."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"spec file {name!r} does not exist") from None
    except IsADirectoryError:
        raise SpecError(f"spec file {name!r} is a directory, not a TOML file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"spec file {name!r} cannot be read: {getattr(e, 'strerror', None) or e}") from None
    return loads(text, name)


def parse(doc: dict, path: str = "<spec>") -> Family:
    r = _Reader(path)
    r.table(doc, "", TOP_KEYS)
    for key in ("name", "stem", "stages", "head"):
        if key not in doc:
            r.fail(key, f"is required; a spec file needs {', '.join(('name', 'stem', 'stages', 'head'))}")
    model = r.string(doc, "name", "name")
    if not model or not all(c.isalnum() or c in "_-." for c in model):
        r.fail("name", f"must be letters, digits, '_', '-' or '.', got {model!r}")

    st = r.table(doc["stem"], "stem", ("c", "k", "s", "act", "scale"))
    stem = Stem(r.integer(st, "c", "stem"), r.integer(st, "k", "stem", default=3),
                r.integer(st, "s", "stem", default=2), r.act(st, "act", "stem", Act.RELU),
                r.string(st, "scale", "stem", "always", SCALES))

    if not isinstance(doc["stages"], list) or not doc["stages"]:
        r.fail("stages", f"must be a non-empty list of rows ({{ block = ..., c = ..., ... }}), got {doc['stages']!r}")
    stages = tuple(_row(r, row, i) for i, row in enumerate(doc["stages"]))

    hd = r.table(doc["head"], "head", tuple(f.name for f in fields(Head)))
    head = Head(
        conv=None if "conv" not in hd else r.integer(hd, "conv", "head"),
        conv_scale=r.string(hd, "conv_scale", "head", "always", SCALES),
        conv_expand=None if "conv_expand" not in hd else r.integer(hd, "conv_expand", "head"),
        conv_act=r.act(hd, "conv_act", "head", Act.RELU6),
        hidden=None if "hidden" not in hd else r.integer(hd, "hidden", "head"),
        hidden_scale=r.string(hd, "hidden_scale", "head", "always", SCALES),
        hidden_act=r.act(hd, "hidden_act", "head", Act.HARDSWISH),
        dropout=_dropout(r, hd),
        hidden_conv=bool(r.boolean(hd, "hidden_conv", "head")))
    if head.conv is not None and head.conv_expand is not None:
        r.fail("head", "give conv (a width) or conv_expand (a multiple of the input), not both")

    se_doc = r.table(doc.get("se", {}), "se", tuple(f.name for f in fields(SE)))
    se = SE(r.integer(se_doc, "reduction", "se", default=4), r.string(se_doc, "of", "se", "expanded",
                                                                       ("expanded", "input")),
            r.integer(se_doc, "divisor", "se", default=8), r.act(se_doc, "act", "se", Act.RELU),
            r.act(se_doc, "gate", "se", Act.HARDSIGMOID))
    nd = r.table(doc.get("norm", {}), "norm", ("eps", "momentum"))
    norm = Norm(r.number(nd, "eps", "norm", 0.0, None, 1e-5), r.number(nd, "momentum", "norm", 0.0, 1.0, 0.1))

    family = Family(model, stem, stages, head, r.string(doc, "title", "title", ""),
                    r.string(doc, "source", "source", ""), r.integer(doc, "in_channels", "in_channels", default=3),
                    r.integer(doc, "divisor", "divisor", default=8),
                    bool(r.boolean(doc, "round_expansion", "round_expansion")), se, norm,
                    r.number(doc, "alpha", "alpha", 0.0, None, 1.0),
                    _depth(r, doc),
                    r.integer(doc, "resolution", "resolution", default=DEFAULT_RESOLUTION),
                    r.string(doc, "layout", "layout", "flat", LAYOUTS),
                    bool(r.boolean(doc, "layer_scale", "layer_scale")))
    _check_kernels_fit(r, family, family.resolution)
    return family


def _depth(r: _Reader, doc: dict) -> float:
    d = r.number(doc, "depth", "depth", 0.0, None, 1.0)
    if d > MAX_DEPTH:
        r.fail("depth", f"depth must be a finite number > 0 and at most {MAX_DEPTH:g}, got {doc['depth']!r}")
    return d


def _dropout(r: _Reader, hd: dict) -> float:
    v = hd.get("dropout", 0.2)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
        r.fail("head", f"dropout must be a number in [0, 1), got {v!r}")
    return float(v)


def _row(r: _Reader, row: object, i: int) -> Stage:
    where = f"stages[{i}]"
    if not isinstance(row, dict):
        r.fail(where, f"must be a table such as {{ block = \"mbconv\", c = 24, ... }}, got {row!r}")
    block = r.string(row, "block", where, None, BLOCKS) if "block" in row else r.fail(
        where, f"block is required; accepted: {', '.join(BLOCKS)}")
    r.table(row, where, ROW_KEYS[block])
    t = exp = None
    if block in ("inverted_residual", "uib", "fused_ib") or (block == "mbconv" and "exp" not in row):
        if "t" not in row:
            r.fail(where, "t (the expansion ratio) is required" + (" (or exp, the expanded width)"
                                                                    if block == "mbconv" else ""))
        t = r.number(row, "t", where, 0.0, None, None)
    if block == "mbconv" and "exp" in row:
        if "t" in row:
            r.fail(where, "give t (an expansion ratio) or exp (an expanded width), not both")
        exp = r.integer(row, "exp", where)
    if block == "mqa":
        return _mqa_row(r, row, where)
    default_act = Act.RELU if block in ("depthwise_separable", "uib", "fused_ib", "conv_bn_act") else Act.RELU6
    uib = block == "uib"  # its kernels may be 0: no such depthwise conv
    stage = Stage(block, r.integer(row, "c", where), r.integer(row, "n", where, default=1),
                  r.integer(row, "s", where, default=1), r.integer(row, "k", where, minimum=0 if uib else 1, default=3),
                  t, exp, bool(r.boolean(row, "se", where)), r.act(row, "act", where, default_act),
                  r.boolean(row, "residual", where), r.integer(row, "a", where, minimum=0, default=0),
                  None if "stage" not in row else r.integer(row, "stage", where, minimum=0))
    for key, k in (("k", stage.k), *((("a", stage.a),) if uib else ())):
        if k % 2 == 0 and not (uib and k == 0):
            r.fail(where, f"{key} must be odd (a centred kernel keeps the map size at stride 1)"
                          + (" or 0 (none)" if uib else "") + f", got {k}")
    if uib and stage.s > 1 and not (stage.a or stage.k):
        r.fail(where, f"a uib row at stride {stage.s} needs a depthwise conv to carry it: a or k > 0")
    return stage


def _mqa_row(r: _Reader, row: dict, where: str) -> Stage:
    if "heads" not in row:
        r.fail(where, "heads (the attention's query heads) is required")
    stage = Stage("mqa", r.integer(row, "c", where), r.integer(row, "n", where, default=1),
                  r.integer(row, "s", where, default=1), r.integer(row, "k", where, default=3),
                  residual=r.boolean(row, "residual", where),
                  stage=None if "stage" not in row else r.integer(row, "stage", where, minimum=0),
                  heads=r.integer(row, "heads", where), key_dim=r.integer(row, "key_dim", where, minimum=0, default=0),
                  kv_stride=r.integer(row, "kv_stride", where, default=1))
    if stage.s != 1:
        r.fail(where, f"s must be 1: an mqa block keeps the map's size, got {stage.s}")
    if stage.k % 2 == 0:
        r.fail(where, f"k must be odd (a centred kernel), got {stage.k}")
    return stage


def _check_kernels_fit(r: _Reader, family: Family, resolution: int) -> None:
    """Build the network at the file's own alpha and resolution: a residual that cannot hold,
    or a kernel larger than the map it runs on, is the file's mistake; name its row."""
    from .walk import count_layers
    from .family import build_network
    family = replace(family, layout="flat")  # named features.N, one block each
    rows = [i for i, row in enumerate(family.stages) for _ in range(repeats(row.n, family.depth))]  # features.1..
    try:
        spec = build_network(family, family.alpha, 1000)
    except SpecError as e:
        # name the row: rebuild row by row until it fails (the whole table is one of the prefixes)
        for i in range(len(family.stages)):
            try:
                build_network(replace(family, stages=family.stages[:i + 1]), family.alpha, 1000)
            except SpecError:
                r.fail(f"stages[{i}]", str(e))
        raise
    # odd kernels padded by (k - 1) / 2 never make a map vanish: the walk cannot fail here
    a = count_layers(spec, resolution=resolution)
    for row in a.layers:
        parts = row.name.split(".")
        if row.kind == "depthwise" and parts[0] == "features" and parts[1] != "0":  # a block's k x k conv
            h, w = row.input_shape[1:]
            k = row.spec.kernel
            if k > max(h, w):
                i = rows[int(parts[1]) - 1]
                r.fail(f"stages[{i}]", f"k = {k}: a {k}x{k} kernel is larger than the {h}x{w} map it runs on "
                                       f"at the file's resolution {resolution}; use a smaller k or set resolution")


# ------------------------------------------------------------------------ writing


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Act):
        return f'"{v.value}"'
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _inline(pairs) -> str:
    return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in pairs if v is not None) + " }"


def write(family: Family) -> str:
    """``family`` as a spec file (:func:`read` gives it back, equal)."""
    f = family
    lines = [f"# flopcalc spec file: {f.title or f.name}" + (f" ({f.source})" if f.source else ""),
             "# Every command that takes a MODEL takes this file: flopcalc table THIS.toml", ""]
    for key in ("name", "title", "source", "in_channels", "alpha", "divisor", "round_expansion", "depth",
                "resolution", "layout"):
        lines.append(f"{key} = {_value(getattr(f, key))}")
    if f.layer_scale:
        lines.append("layer_scale = true")
    s = f.stem
    scale = (("scale", s.scale),) if s.scale != "always" else ()
    lines += ["", f"stem = {_inline((('c', s.c), ('k', s.k), ('s', s.s), ('act', s.act), *scale))}", "",
              "# block, k: kernel, t: expansion ratio or exp: expanded width, c: output channels, n: repeats,",
              "# s: stride of the first, se: squeeze-and-excitation, act: activation",
              "stages = ["]
    for row in f.stages:
        keys = ROW_KEYS[row.block]
        pairs = [(k, getattr(row, k)) for k in keys if k not in ("se", "residual", "stage")]
        if "se" in keys:
            pairs.append(("se", row.se))
        if row.residual is not None:
            pairs.append(("residual", row.residual))
        if row.stage is not None:
            pairs.append(("stage", row.stage))
        lines.append(f"  {_inline(pairs)},")
    h = f.head
    head = [(fl.name, getattr(h, fl.name)) for fl in fields(Head)]
    lines += ["]", "", f"head = {_inline(head)}", "", "[se]"]
    lines += [f"{fl.name} = {_value(getattr(f.se, fl.name))}" for fl in fields(SE)]
    lines += ["", "[norm]", f"eps = {_value(f.norm.eps)}", f"momentum = {_value(f.norm.momentum)}", ""]
    return "\n".join(lines)

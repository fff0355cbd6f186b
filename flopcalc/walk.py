"""The walk: a spec tree with an input shape, one row per layer, exact totals (:func:`count_layers`,
flopcalc's own count; :func:`flopcalc.analyze` is the public entry, under any convention)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from .costs import COST_FORMULAS, KIND_DESCRIPTIONS, ShapeError, layer_cost
from .spec import JOIN_LAYERS, SKIP_LAYERS, Conv2d, Layer, Network, Node, Shape, SpecError
from .family import Family
from .zoo import DEFAULT_CLASSES, DEFAULT_RESOLUTION, family_of, get_spec
from .scaling import as_pair

if TYPE_CHECKING:
    from fractions import Fraction


class Origin(NamedTuple):
    """How a recorded operation was reached: what a counter that hooks modules or patches Python
    functions sees of it (thop, ptflops, torchinfo and calflops count by these, not by the operation).
    A row the walk gives has none: its module is the one flopcalc's builders make for its spec."""

    module: str           # the innermost module's qualified name ("" for the model itself)
    type: str             # that module's class, qualified: "torch.nn.modules.conv.Conv2d"
    leaf: bool            # it has no child modules
    call: int             # which module call it ran in (one number per forward call)
    first_row: bool       # the first counted row of that call (a per-call rule charges it once)
    first_call: bool      # that call is the module's first (a per-module rule charges it once)
    api: str              # the torch function the code called: "torch.nn.functional.relu", "torch.Tensor.add"
    operator: bool        # called through a Python operator (x + y, x @ y), not by its name
    aten: str             # the ATen operation: "convolution", "addmm", "bmm"
    module_input: Shape   # the module call's first input, batch first
    module_output: Shape  # its output (the first tensor of a tuple), batch first
    module_params: tuple  # ((name, numel), ...): the module's own parameters, as named_parameters() gives
    attrs: tuple          # ((name, value), ...): the module attributes the counters read (affine, num_heads...)
    size_products: int = 0  # products of tensor sizes the model's Python code computed and fed to this
    #                         operation (``n_h * n_w``): a torch.jit trace records each as an operation
    batch: int = 1        # the run's batch: a module's shapes hold it, their first dimension a multiple of it
    whole: bool = False   # the row's own shapes hold the batch too (sequence first; windows of B * n)
    folded: bool = True   # a linear layer's bias is added in its matrix product (torch does so when the
    #                       input is 2-D or contiguous; else a product, then an add)
    outer: tuple = ()     # the classes of the module calls around this one, outermost first
    per_run: bool = False  # it works on the model's own tensors, once per run whatever the batch (a
    #                        weight standardized by a batch norm): its operations are not per image

    def attr(self, name: str, default=None):
        return dict(self.attrs).get(name, default)


class LayerRow(NamedTuple):
    """One layer: its dotted name (the module's qualified name in the built model)."""

    name: str
    kind: str
    spec: Layer
    input_shape: Shape
    output_shape: Shape
    params: int
    macs: int
    origin: Origin | None = None  # a recorded module's rows only


# flopcalc's own count: torchvision's modules, counted as the PyTorch tools count them; every other
# convention is derived from it (flopcalc.conventions)
DEFAULT_CONVENTION = "pytorch"


@dataclass(frozen=True, slots=True)
class Total:
    params: int  # None under a convention that reports no parameter count
    macs: int    # None under one that reports no operation count


@dataclass(frozen=True)
class Analysis:
    """``layers`` in execution order; ``total`` is their sum; ``by_kind`` splits it."""

    model: str
    config: dict
    input_shape: Shape
    layers: tuple[LayerRow, ...]
    total: Total
    by_kind: dict[str, Total]
    spec: Network
    convention: str = DEFAULT_CONVENTION  # how params and macs are counted (flopcalc.conventions)
    # a recorded module's operations without a formula: op -> {"calls": n, "modules": [...]}
    uncounted: dict = field(default_factory=dict)
    # a recorded module's activation values alive while each row runs (its batch included), from the
    # tensors' own lifetimes; None for a walked spec (flopcalc.memory reads the spec's skips instead)
    alive: tuple | None = None

    @property
    def batch(self) -> int:
        """The images per forward pass that ``layers``' multiply-adds are for (every front end sets it)."""
        return self.config["batch"]

    def layer(self, name: str) -> LayerRow:
        for row in self.layers:
            if row.name == name:
                return row
        raise KeyError(name)


def check_resolution(resolution: object) -> tuple[int, int]:
    """A positive int, or a (height, width) pair of them."""
    pair = as_pair(resolution)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in pair):
        raise SpecError(f"resolution must be a positive integer (or a pair of them), got {resolution!r}")
    return pair  # type: ignore[return-value]


def check_batch(batch: object) -> int:
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise SpecError(f"batch must be an integer >= 1, got {batch!r}")
    return batch


def flatten(node: Node, prefix: str = "") -> tuple[tuple[str, Layer, int | tuple, int], ...]:
    """Every layer under ``node`` in execution order, as ``(dotted name, layer, skip, source)``.

    ``skip`` is -1, except for a layer that takes the enclosing block's input too (a
    residual add, the channel scale of squeeze-and-excitation): there it is the index of the
    block's first layer, whose input it takes. With no layer before it in the block, it
    takes its own input (x + x). A layer that joins its block's branches (multi-query attention) has
    the tuple of the branches' last layers instead, whose outputs are its operands.

    ``source`` is -1 (the layer takes the previous layer's output), except for the first layer of
    a branch after the first (a block's ``branches``: children that each start from the block's input):
    there it is the index of the block's first layer, whose input it takes.
    """
    out: list[tuple] = []
    _flatten(node, prefix, out)
    return tuple(out)


def _flatten(node: Node, prefix: str, out: list) -> None:
    if type(node) in COST_FORMULAS:
        out.append((prefix, node, -1, -1))
        return
    children = getattr(node, "children", None)
    if children is None:
        raise SpecError(f"{prefix or 'spec'}: {type(node).__name__} is neither a layer with a "
                        "cost formula nor a block with children")
    first = len(out)
    branches, ends = getattr(node, "branches", ()), []
    for name, child in children():
        path = f"{prefix}.{name}" if prefix else name
        if type(child) in SKIP_LAYERS:
            out.append((path, child, first if first < len(out) else -1, -1))
        elif type(child) in JOIN_LAYERS:
            if not ends:
                raise SpecError(f"{path}: {type(child).__name__} joins branches, but its block has none")
            out.append((path, child, tuple(ends), -1))
        else:
            start = len(out)
            _flatten(child, path, out)
            if name in branches:
                if start > first:  # a later branch starts again from the block's input
                    n, layer, skip, _ = out[start]
                    out[start] = (n, layer, skip, first)
                ends.append(len(out) - 1)


# Flattening is the costly part of a walk and does not depend on the input shape;
# zoo specs are cached objects, so keep their flat form beside them (keyed by identity,
# holding the spec so the id stays valid).
_FLAT: dict[int, tuple[Node, tuple]] = {}


def _flat(node: Node) -> tuple:
    hit = _FLAT.get(id(node))
    if hit is None or hit[0] is not node:
        if len(_FLAT) > 512:
            _FLAT.clear()
        hit = _FLAT[id(node)] = (node, flatten(node))
    return hit[1]


def walk(node: Node, x: Shape) -> tuple[list[LayerRow], Shape]:
    """Rows for every layer under ``node`` fed an ``x``-shaped input, and the output shape."""
    rows: list[LayerRow] = []
    append, formulas, new_row = rows.append, COST_FORMULAS, tuple.__new__
    for name, layer, skip, source in _flat(node):
        try:
            if source >= 0:
                x = rows[source][3]
            if skip == -1 and type(layer) not in SKIP_LAYERS:
                kind, out, params, macs = formulas[type(layer)](layer, x)
            elif skip.__class__ is tuple:  # a join: its operands are the branches' outputs, the first its input
                operands = tuple(rows[i][4] for i in skip)
                x = operands[0]
                kind, out, params, macs = formulas[type(layer)](layer, operands)
            else:
                kind, out, params, macs = formulas[type(layer)](layer, x, rows[skip][3] if skip >= 0 else x)
        except ShapeError as e:
            raise ShapeError(f"{name or type(layer).__name__}: {e}") from None
        append(new_row(LayerRow, (name, kind, layer, x, out, params, macs, None)))
        x = out
    return rows, x


def totals(rows: list[LayerRow] | tuple[LayerRow, ...]) -> tuple[Total, dict[str, Total]]:
    """The sum over ``rows``, and that sum split by layer kind (in ``KIND_DESCRIPTIONS`` order)."""
    kinds: dict[str, list[int]] = {}
    for r in rows:  # indexing, not attribute names: this loop is a fifth of count_layers()
        acc = kinds.get(r[1])
        if acc is None:
            kinds[r[1]] = [r[5], r[6]]
        else:
            acc[0] += r[5]
            acc[1] += r[6]
    order = [k for k in KIND_DESCRIPTIONS if k in kinds] + [k for k in kinds if k not in KIND_DESCRIPTIONS]
    by_kind = {k: Total(*kinds[k]) for k in order}
    return Total(sum(t.params for t in by_kind.values()), sum(t.macs for t in by_kind.values())), by_kind


def count_layers(model: str | Family | Network, alpha: float = 1.0,
            resolution: int | tuple[int, int] = DEFAULT_RESOLUTION, num_classes: int = DEFAULT_CLASSES, *,
            batch: int = 1, rounding: str = "torchvision", full_conv: bool = False,
            small_input: bool = False) -> Analysis:
    """Per-layer output shapes, parameters and multiply-adds of a model.

    ``model`` is a zoo name (``"mobilenet_v2"``; :data:`~flopcalc.zoo.MODELS`) or a spec file's
    :class:`~flopcalc.family.Family`, built with width multiplier ``alpha`` and ``num_classes``;
    or a concrete :class:`~flopcalc.spec.Network` (then ``alpha`` and ``num_classes`` are the
    spec's own business and are ignored).
    ``resolution`` is the input size, or a (height, width) pair. ``rounding`` names whose
    channel rule to use (torchvision's by default; see :data:`~flopcalc.scaling.WIDTH_RULES`);
    ``full_conv`` replaces every depthwise + pointwise pair by one standard convolution with the
    same input and output channels and stride (the V1 paper's Table 4 "Conv MobileNet");
    ``small_input`` runs the stem and the first strided stage at stride 1, as the networks are
    adapted to 8x8 and 32x32 images.

    Totals count every learnable parameter (what ``sum(p.numel())`` gives on the built
    model) and the conv + fully connected multiply-adds (the papers' Mult-Adds) for a
    batch of ``batch`` inputs; shapes are per input.
    """
    h, w = check_resolution(resolution)
    check_batch(batch)
    if isinstance(model, Network):
        spec = model
        config = {"resolution": [h, w], "batch": batch}
    else:
        spec = get_spec(model, alpha, num_classes, rounding, full_conv, small_input)
        config = {"alpha": float(alpha), "resolution": [h, w], "num_classes": num_classes, "batch": batch}
        depth = family_of(model).depth
        if depth != 1:
            config["depth_mult"] = depth
        if full_conv:
            config["full_conv"] = True
        if small_input:
            config["small_input"] = True
    x = (spec.in_channels, h, w)
    rows, _ = walk(spec, x)
    if batch != 1:
        rows = [r._replace(macs=r.macs * batch) for r in rows]
    total, by_kind = totals(rows)
    return Analysis(spec.name, config, x, tuple(rows), total, by_kind, spec)


def block_rows(a: Analysis, depth: int) -> list[LayerRow]:
    """The analysis summed into the blocks ``depth`` levels below the root (1: the
    network's top-level children), as torchinfo's ``depth`` shows them; a layer above that
    depth stays a row of its own. The rows partition the layers, so they add up to the total."""
    rows: list[LayerRow] = []
    layers = a.layers
    if a.spec is None:  # a recorded model: its rows are named after its modules
        return _rows_by_name(layers, depth)

    def visit(node: Node, name: str, level: int, start: int) -> int:
        """Add ``node``'s row(s); return the index of the first layer after it."""
        if type(node) in COST_FORMULAS:
            rows.append(layers[start])
            return start + 1
        if level >= depth and name:
            end = start + len(_flat(node))
            part = layers[start:end]
            rows.append(LayerRow(name, block_kind(node), node, part[0].input_shape, part[-1].output_shape,
                                 sum_counts(r.params for r in part), sum_counts(r.macs for r in part)))
            return end
        for child_name, child in node.children():
            start = visit(child, f"{name}.{child_name}" if name else child_name, level + 1, start)
        return start

    visit(a.spec, "", 0, 0)
    return rows


def _rows_by_name(layers, depth: int) -> list[LayerRow]:
    """A recorded model's rows summed by the first ``depth`` parts of their names (``blocks.0`` at
    depth 2; an ONNX node's ``/blocks/blocks.0``), consecutive rows of one prefix making one row; a
    row alone keeps its own."""
    rows: list[LayerRow] = []
    groups: list[tuple[str, list[LayerRow]]] = []
    for r in layers:
        sep = "/" if r.name.startswith("/") else "."
        parts = r.name.split(sep)
        keep = depth + 1 if sep == "/" else depth  # "/a/b" splits into "", "a", "b"
        prefix = sep.join(parts[:keep]) if len(parts) > keep else r.name
        if groups and groups[-1][0] == prefix:
            groups[-1][1].append(r)
        else:
            groups.append((prefix, [r]))
    for prefix, part in groups:
        if len(part) == 1:
            rows.append(part[0])
        else:
            rows.append(LayerRow(prefix, "block", None, part[0].input_shape, part[-1].output_shape,
                                 sum_counts(r.params for r in part), sum_counts(r.macs for r in part)))
    return rows


def sum_counts(values) -> int | None:
    """The sum, or None if any value is None (a count a convention does not report)."""
    total = 0
    for v in values:
        if v is None:
            return None
        total += v
    return total


BLOCK_KINDS = {"MBConv": "mbconv", "UniversalInvertedBottleneck": "uib", "FusedIB": "fused_ib",
               "ConvNormAct": "conv_bn_act", "MobileAttention": "mqa", "MobileMQA": "mobile_mqa"}


def block_kind(node: Node) -> str:
    """``InvertedResidual`` -> ``inverted_residual``: a block row's kind."""
    import re
    name = type(node).__name__
    if name in BLOCK_KINDS:
        return BLOCK_KINDS[name]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def top_rows(a: Analysis, n: int) -> list[LayerRow]:
    """The ``n`` layers with the most multiply-adds (then parameters), most expensive first."""
    # a count a convention does not report (None) sorts as nothing: keras has no operations,
    # FlopCounterMode no parameters
    return sorted(a.layers, key=lambda r: (-(r.macs or 0), -(r.params or 0)))[:n]


@dataclass(frozen=True)
class Separable:
    """A standard conv against its depthwise-separable factorization (V1 paper, 3.1)."""

    kernel: int
    in_c: int
    out_c: int
    size: int
    stride: int
    out_size: int
    standard: Total
    depthwise: Total
    pointwise: Total
    separable: Total
    ratio: Fraction        # separable / standard MAdds, exact
    closed_form: Fraction  # eq. (5): 1/N + 1/D_K^2


def separable(kernel: int, in_c: int, out_c: int, size: int, stride: int = 1, alpha: float = 1.0,
              rho: float = 1.0) -> Separable:
    """Eq. (4) over eq. (1): D_K^2 M D_F^2 + M N D_F^2 against D_K^2 M N D_F^2.

    ``alpha`` and ``rho`` are the V1 paper's width and resolution multipliers (section 3.3 and
    3.4, Table 3): the layer becomes alpha M -> alpha N channels on a rho D_F map (each rounded
    to the nearest integer, at least 1), for both the standard and the separable conv.
    """
    from fractions import Fraction  # only this command needs exact ratios; keep start-up light
    in_c, out_c = max(1, round(alpha * in_c)), max(1, round(alpha * out_c))
    size = max(1, round(rho * size))
    x = (in_c, size, size)
    std = layer_cost(Conv2d(in_c, out_c, kernel, stride), x)
    dw = layer_cost(Conv2d(in_c, in_c, kernel, stride, groups=in_c), x)
    pw = layer_cost(Conv2d(in_c, out_c, 1), dw.output_shape)
    sep = Total(dw.params + pw.params, dw.macs + pw.macs)
    return Separable(kernel, in_c, out_c, size, stride, std.output_shape[1],
                     Total(std.params, std.macs), Total(dw.params, dw.macs),
                     Total(pw.params, pw.macs), sep, Fraction(sep.macs, std.macs),
                     Fraction(1, out_c) + Fraction(1, kernel * kernel))

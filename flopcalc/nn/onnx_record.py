"""Any ONNX file, counted: onnx's own shape inference (with data propagation) gives every tensor's
shape, and each node becomes one of the analyzer's rows, named after the node, with the same layer
specs, formulas and conventions as a zoo model or a recorded PyTorch module. A node without a
formula here is listed (operation, calls, nodes, parameters), never a silent zero.

Parameters are the initializers a node reads, charged to the first node that reads them; a batch
norm's running mean and variance are statistics, not learnable values, and are left out, as
``sum(p.numel())`` leaves them out of a PyTorch model.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..costs import layer_cost
from ..errors import UserError
from ..spec import (Act, Activation, BatchNorm2d, ChannelScale, Conv2d, Dropout, GlobalAvgPool, Linear, ResidualAdd)
from ..operations import ConvNd, Elementwise, MatMul, Normalization, Reduction, Resize
from ..walk import DEFAULT_CONVENTION, LayerRow, Origin
from .record import per_image_shape

# Nodes that move or relabel data and compute nothing.
FREE = {"Flatten", "Reshape", "Identity", "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Constant",
        "Transpose", "Slice", "Cast", "Split", "Expand", "ConstantOfShape"}
ACTIVATIONS = {"Relu": Act.RELU, "HardSwish": Act.HARDSWISH, "HardSigmoid": Act.HARDSIGMOID,
               "Sigmoid": Act.SIGMOID}
# Elementwise nodes of one tensor, and of two (broadcast): no multiply-adds.
UNARY = {"Sqrt", "Erf", "Exp", "Tanh", "Softmax", "LogSoftmax", "Log", "Reciprocal", "Neg", "Abs", "Gelu",
         "LeakyRelu", "Elu", "Softplus", "Sin", "Cos", "Floor", "Ceil", "Not", "IsNaN"}
BINARY = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Equal", "Less", "Greater", "LessOrEqual",
          "GreaterOrEqual", "Where", "Mod", "And", "Or"}
REDUCE = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceL1",
          "ReduceLogSumExp", "ArgMax", "ArgMin"}


class OnnxError(UserError):
    pass


def record_onnx(path: str | Path, input_shape=None):
    """The rows of an ONNX file's graph for ``input_shape`` (batch first; one shape per graph input
    where it has several, :func:`flopcalc.sources.input_specs`; default: the graph's own,
    a free batch dimension taken as 1): a :class:`~flopcalc.nn.record.Recording`."""
    import onnx
    from onnx import numpy_helper, shape_inference
    from .record import Recording
    path = Path(path)
    try:
        model = onnx.load(str(path))
    except FileNotFoundError:
        raise OnnxError(f"no file {str(path)!r}") from None
    except Exception as e:  # noqa: BLE001  (onnx's protobuf errors: not an ONNX file)
        raise OnnxError(f"{str(path)!r} is not an ONNX file ({type(e).__name__})") from None
    g = model.graph
    if not g.node:
        raise OnnxError(f"{str(path)!r} is not an ONNX model (it holds no graph)")
    init = {t.name: t for t in g.initializer}
    inputs = [v for v in g.input if v.name not in init]
    from ..sources import input_specs
    given = None if input_shape is None else [i.shape for i in input_specs(input_shape)]
    if given is not None and len(given) != len(inputs):
        raise OnnxError(f"{str(path)!r} has {len(inputs)} input{'s' if len(inputs) != 1 else ''} "
                        f"({', '.join(v.name for v in inputs)}); --input was given {len(given)} time"
                        f"{'s' if len(given) != 1 else ''}: one per input, in order")
    shapes_in = []
    for k, v in enumerate(inputs):
        dims = v.type.tensor_type.shape.dim
        declared = [d.dim_value if d.HasField("dim_value") else None for d in dims]
        if given is None:
            if any(d is None for d in declared[1:]):
                free = [d.dim_param or "?" for d in dims[1:] if not d.HasField("dim_value")]
                raise OnnxError(f"{str(path)!r}: the input {v.name!r} has free dimensions ({', '.join(free)}); "
                                "give them with --input, such as --input 1x3x224x224")
            shape = tuple([declared[0] or 1] + declared[1:])
        else:
            shape = tuple(given[k])
        if len(shape) != len(declared) or any(d is not None and d != s for d, s in zip(declared, shape)):
            raise OnnxError(f"--input {'x'.join(map(str, shape))} does not fit {str(path)!r}'s input {v.name!r} "
                            f"{'x'.join(str(d) if d else '?' for d in declared)}")
        for d, size in zip(dims, shape):
            d.Clear()
            d.dim_value = size
        shapes_in.append(shape)
    input_shape = shapes_in[0]
    inferred = shape_inference.infer_shapes(model, data_prop=True)
    shapes = {v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
              for v in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input)}
    for name, t in init.items():
        shapes[name] = tuple(t.dims)
    small = {name: t for name, t in init.items() if math.prod(t.dims) <= 16}
    for node in g.node:  # Constant nodes' values (the exporter writes Clip's bounds so)
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            small[node.output[0]] = node.attribute[0].t

    def const(name):
        """A small constant's value (a scalar as a float), or None."""
        if name not in small:
            return None
        v = numpy_helper.to_array(small[name]).tolist()
        return float(v) if isinstance(v, (int, float)) else v

    rows, uncounted, charged, used, carried = [], {}, set(), {}, {}
    # parameters are floating-point initializers (not the integer shapes and indices a graph also keeps)
    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16}
    weights = {name for name, t in init.items() if t.data_type in floats}
    batch = input_shape[0]
    for node in g.node:
        whole: list = []
        spec_x = _spec(node, shapes, init, const, batch, whole)
        learnable = [i for i in node.input if i in weights]
        if node.op_type == "BatchNormalization":
            learnable = learnable[:2]  # scale and bias; the mean and variance are statistics
        # and what a free node (Expand, Concat, Reshape) passed on: a class token, a reshaped weight
        learnable += [p for i in node.input for p in carried.get(i, ())]
        if spec_x is None and node.op_type in FREE:
            for out in node.output:
                carried[out] = tuple(dict.fromkeys(p for p in learnable if p not in charged))
            continue
        params = sum(math.prod(init[i].dims) for i in dict.fromkeys(learnable) if i not in charged)
        charged.update(learnable)
        if spec_x is None:
            entry = uncounted.setdefault(node.op_type, {"calls": 0, "modules": [], "params": 0})
            entry["calls"] += 1
            entry["modules"].append(node.name)
            entry["params"] += params
            continue
        spec, x, block_input = spec_x
        cost = layer_cost(spec, x, block_input) if block_input is not None else layer_cost(spec, x)
        if whole:  # a sequence-first tensor held the batch: its cost is the batch's
            cost = cost._replace(macs=cost.macs // batch)
        name = node.name or f"{node.op_type}_{len(rows)}"
        n = used.get(name, 0)
        used[name] = n + 1
        # its origin: the node (what onnx-tool counts by); no module call, so no hook-based tool sees it
        full_in = tuple(shapes.get(node.input[0]) or ()) if node.input else ()
        full_out = tuple(shapes.get(node.output[0]) or ()) if node.output else ()
        origin = Origin(node.name, f"onnx.{node.op_type}", True, -2, True, True, "", False, node.op_type, full_in,
                        full_out, (), (("inputs", len(node.input)),), 0, batch, bool(whole))
        rows.append(LayerRow(name if n == 0 else f"{name}.{n}", cost.kind, spec, tuple(x),
                             tuple(cost.output_shape), params, cost.macs, origin))
    from ..sources import InputSpec
    several = tuple(InputSpec(shape) for shape in shapes_in) if len(shapes_in) > 1 else ()
    return Recording(path.name, tuple(input_shape), rows, uncounted, several)


def _attrs(node) -> dict:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _spec(node, shapes, init, const, batch: int = 1, whole: list | None = None):
    """(spec, x, block_input) for a node with a formula here, else None. Shapes per image: a tensor
    that does not start with the batch (sequence first) keeps its shape, and ``whole`` is told."""
    op, a = node.op_type, _attrs(node)
    ins = [shapes.get(i) for i in node.input]
    x = ins[0][1:] if ins and ins[0] else None

    def per(shape):
        return per_image_shape(shape, batch, whole)

    if op in ("Conv", "ConvTranspose"):
        w = ins[1]
        space = len(w) - 2
        k = tuple(a.get("kernel_shape", w[2:]))
        strides, dil = tuple(a.get("strides", [1] * space)), tuple(a.get("dilations", [1] * space))
        pads = a.get("pads", [0] * 2 * space)
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or pads[:space] != pads[space:]:
            return None  # asymmetric or automatic padding: no formula here yet
        pads, group, bias = tuple(pads[:space]), a.get("group", 1), len(node.input) > 2
        if op == "Conv" and space == 2 and len(set(k)) == len(set(strides)) == len(set(pads)) == len(set(dil)) == 1:
            return Conv2d(x[0], w[0], k[0], strides[0], pads[0], dil[0], group, bias), x, None
        transposed = op == "ConvTranspose"
        out_c = w[1] * group if transposed else w[0]
        return ConvNd(x[0], out_c, k, strides, pads, dil, group, bias, transposed,
                      tuple(a.get("output_padding", [0] * space))), x, None
    if op == "Gemm" and node.input[1] in init and not a.get("transA", 0):
        w = ins[1]
        n_in, n_out = (w[1], w[0]) if a.get("transB", 0) else (w[0], w[1])
        return Linear(n_in, n_out, len(node.input) > 2), per(ins[0]), None
    if op == "MatMul" and node.input[1] in init and len(ins[1]) == 2:
        return Linear(ins[1][0], ins[1][1], False), per(ins[0]), None
    if op == "MatMul" and ins[0] and ins[1] and len(ins[0]) >= 3 and len(ins[1]) >= 2:
        w, xs = ins[1], per(ins[0])
        return MatMul(tuple(w[1:]) if len(w) == len(ins[0]) and len(xs) < len(ins[0]) else tuple(w)), xs, None
    if op == "BatchNormalization":
        return BatchNorm2d(x[0]), x, None
    if op == "LayerNormalization" and ins[0]:
        axis = a.get("axis", -1)
        return Normalization("layer", math.prod(ins[0][axis:]), True), per(ins[0]), None
    if op in ACTIVATIONS:
        return Activation(ACTIVATIONS[op], False), x, None
    if op == "Clip" and len(node.input) == 3 and (const(node.input[1]), const(node.input[2])) == (0.0, 6.0):
        return Activation(Act.RELU6, False), x, None
    if op == "GlobalAveragePool":
        return GlobalAvgPool(keepdim=True), x, None
    if op == "ReduceMean" and sorted(a.get("axes", [])) in ([2, 3], [-2, -1]):
        return GlobalAvgPool(keepdim=bool(a.get("keepdims", 1)), reduction="mean"), x, None
    if op == "Add" and len(ins) == 2 and ins[0] == ins[1] and not set(node.input) & set(init):
        return ResidualAdd(), ins[0][1:], ins[1][1:]
    if op == "Mul" and len(ins) == 2 and not set(node.input) & set(init) and ins[0] and ins[1]:
        gate, full = sorted((ins[0], ins[1]), key=math.prod)
        if len(full) == 4 and tuple(gate) == (full[0], full[1], 1, 1):
            return ChannelScale(), gate[1:], full[1:]
    if op == "Resize" and shapes.get(node.output[0]):
        mode = a.get("mode", b"nearest")
        return Resize(mode.decode() if isinstance(mode, bytes) else mode, tuple(shapes[node.output[0]][2:])), x, None
    if op == "Dropout":
        return Dropout(0.0), x, None
    if op in UNARY and ins[0]:
        return Elementwise(op.lower()), per(ins[0]), None
    if op in BINARY and len(ins) >= 2 and all(i is not None for i in ins):
        operands = ins[1:] if op == "Where" else ins
        rank = max(len(i) for i in operands)
        padded = [(1,) * (rank - len(i)) + tuple(i) for i in operands]
        out = tuple(max(d) for d in zip(*padded))  # broadcast (a dimension inference left unknown is 0)
        return Elementwise(op.lower()), per(out), None
    if op in REDUCE and ins[0] and shapes.get(node.output[0]) is not None:
        return Reduction(op.lower(), per(shapes[node.output[0]]) if shapes[node.output[0]] else ()), per(ins[0]), None
    return None


def analyze_onnx(path: str | Path, input_shape=None, *,
                 convention: str = DEFAULT_CONVENTION):
    """An ONNX file counted as ``convention`` counts: the same Analysis a zoo model gives."""
    from ..conventions import counted_as
    return counted_as(record_onnx(path, input_shape).analysis(), convention)

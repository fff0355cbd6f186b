"""ONNX export of the models, and the multiply-adds an ONNX graph carries, counted from the
graph's own shapes (``flopcalc export``, ``bench --backend onnxruntime``).

The export is torch's TorchScript-based exporter (it needs nothing beyond onnx; the newer
torch.export-based one needs onnxscript too), opset 17, in eval mode with constant folding, so
batch norm lands inside the Conv nodes' weights. :func:`graph_macs` reads every Conv node's
weight shape and inferred output shape and every Gemm/MatMul node's weight shape: the same
D_K * D_K * (M / groups) * N * D_F * D_F and M * N the analyzer uses, from the other side.
"""

from __future__ import annotations

import math

import warnings
from pathlib import Path

import torch
from torch import nn

from ..scaling import as_pair

OPSET = 17


def export(model: nn.Module, resolution, path: str | Path, *, dynamic_batch: bool = True, batch: int = 1,
           input_shape: tuple[int, ...] | None = None) -> Path:
    """Write ``model`` (eval mode) as ONNX to ``path``; input ``input`` (N, 3, H, W), or of ``input_shape``
    (batch first) when given; output ``logits``."""
    model = model.eval()
    if input_shape is None:
        h, w = as_pair(resolution)
        input_shape = (batch, 3, h, w)
    x = torch.zeros(input_shape)
    axes = {"input": {0: "batch"}, "logits": {0: "batch"}} if dynamic_batch else None
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        torch.onnx.export(model, (x,), str(path), input_names=["input"], output_names=["logits"],
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True, dynamo=False)
    return Path(path)


def export_module(model: nn.Module, inputs, path: str | Path, *, dynamic_batch: bool = True) -> Path:
    """Write any module (eval mode) as ONNX: zeros of ``inputs`` (:func:`flopcalc.sources.input_specs`)
    as its inputs ``input`` (``input0``, ``input1``, ... for several), its outputs ``output...``."""
    from ..sources import input_specs
    specs = input_specs(inputs)
    xs = tuple(torch.zeros(i.shape, dtype=getattr(torch, i.dtype)) for i in specs)
    names = ["input"] if len(xs) == 1 else [f"input{k}" for k in range(len(xs))]
    axes = {n: {0: "batch"} for n in names} if dynamic_batch else None
    # with gradients on, as training runs it: without them an nn.MultiheadAttention takes torch's fused
    # kernel, which the exporter cannot write
    with warnings.catch_warnings(), torch.enable_grad():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(model.eval(), xs, str(path), input_names=names, dynamic_axes=axes,
                              opset_version=OPSET, do_constant_folding=True, dynamo=False)
        except Exception as e:  # noqa: BLE001  (the exporter's own refusal, in one line)
            from ..errors import UserError
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise UserError(f"exporting to ONNX failed: {type(e).__name__}: {first}") from None
    return Path(path)


def graph_macs(path: str | Path, batch: int = 1) -> dict[str, int]:
    """Multiply-adds of each Conv and Gemm/MatMul node of an ONNX file, for ``batch`` inputs,
    from its initializers' shapes and its shape-inferred outputs."""
    import onnx
    from onnx import shape_inference
    model = shape_inference.infer_shapes(onnx.load(str(path)), data_prop=True)  # sizes computed from shapes
    g = model.graph
    init = {t.name: list(t.dims) for t in g.initializer}
    shapes = {}
    for v in list(g.value_info) + list(g.output) + list(g.input):
        dims = [d.dim_value if d.HasField("dim_value") else batch for d in v.type.tensor_type.shape.dim]
        shapes[v.name] = dims
    macs = {}
    for node in g.node:
        if node.op_type == "Conv":
            n, c_per_group, kh, kw = init[node.input[1]]
            _, _, ho, wo = shapes[node.output[0]]
            macs[node.name] = batch * n * c_per_group * kh * kw * ho * wo
        elif node.op_type in ("Gemm", "MatMul") and node.input[1] in init:
            weight = init[node.input[1]]
            macs[node.name] = batch * weight[0] * weight[1]
        elif node.op_type == "MatMul":  # of two activations (attention's Q K^T and weights times V)
            out, inner = shapes[node.output[0]], shapes[node.input[0]][-1]
            macs[node.name] = math.prod(out) * inner
    return macs

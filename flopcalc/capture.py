"""What the peer counters see of a recorded operation, by how each captures it.

fvcore, torch's FlopCounterMode, ptflops' aten backend and torchprofile count ATen operations, so
a row's operation is enough for them (:mod:`flopcalc.conventions`). The others count through
Python: thop and torchinfo hook the modules of a few ``torch.nn`` classes and charge each call by a
rule over the module's input, output and parameters; ptflops hooks modules *and* replaces a set of
functions by name (``F.relu``, ``torch.matmul``, ``Tensor.add``), so a function called inside a
hooked module counts twice and ``x + y`` not at all; calflops replaces functions only. A recorded
row carries its :class:`~flopcalc.walk.Origin` (the module call it ran in, and the torch function
the code called), and the rules here read it. Each returns the parts of one row by cause, in the
tool's own unit, for one image. Rows the walk gives have no origin; their conventions' rules are the
spec-based ones in :mod:`flopcalc.conventions`.

Every rule was read from the tool's source (thop 0.1.1, ptflops 0.7.5, torchinfo 1.8.0,
torchprofile 0.1.0, calflops 0.3.2) and is checked against the tool run live
(``tests/nn/test_capture.py``; ``tools/model_counts.py`` over torchvision's and timm's models).
"""

from __future__ import annotations

import functools
import math

from .operations import (AdaptivePool, Attention, ConvNd, Einsum, Elementwise, MatMul, Normalization, Pool2d,
                         Recurrent, Reduction, Resize)
from .spec import BatchNorm2d, ChannelScale, Conv2d, GlobalAvgPool, LayerScale, Linear, MultiQueryAttention

NN = "torch.nn.modules."
F = "torch.nn.functional."


@functools.lru_cache(maxsize=None)
def broadcast_heads_take_math_path() -> bool:
    """Whether the installed torch runs scaled dot-product attention on the CPU as its math path (two
    ``bmm``, which FlopCounterMode and ptflops' aten backend count) when the keys and values have fewer
    heads than the queries and are broadcast to them (multi-query attention): torch 2.13 does, 2.14's
    fused kernel takes them (measured with FlopCounterMode on 2.13.0 and 2.14.1). Read from the
    installed package's version, without importing torch; with no torch installed, 2.14's."""
    from importlib import metadata
    try:
        return _before_2_14(metadata.version("torch"))
    except metadata.PackageNotFoundError:
        return False


def _before_2_14(version: str) -> bool:
    """``2.13.0+cpu`` is; ``2.14.1+cu130``, ``3.0`` and a version it cannot read are not."""
    parts = version.split("+")[0].split(".")[:2]
    return len(parts) == 2 and all(p.isdigit() for p in parts) and (int(parts[0]), int(parts[1])) < (2, 14)


def nn_class(row) -> str | None:
    """The ``torch.nn`` class of the module a row ran in (``"Conv2d"``), or None for any other class
    (a subclass of ``nn.Linear`` is not ``nn.Linear``: the tools look classes up exactly)."""
    t = row.origin.type
    return t.rsplit(".", 1)[-1] if t.startswith(NN) else None


def per_image(shape, batch: int = 1) -> int:
    """Elements per image of a module's input or output (a whole shape: the batch's; its first
    dimension may hold more than the batch, windows of each image)."""
    return math.prod(shape) // batch if shape else 0


def row_elements(row, shape) -> int:
    """Elements per image of one of a row's own shapes (per image already, unless the row's shapes
    are the whole batch's)."""
    o = row.origin
    return math.prod(shape) // (o.batch if o is not None and o.whole else 1)


def _kernel(spec) -> int:
    if isinstance(spec, Conv2d):
        return spec.kernel * spec.kernel
    return math.prod(spec.kernel)


def _cause(row) -> str:
    """The cause a row's operations fall under when a tool charges them."""
    if row.kind in ("pointwise", "depthwise", "conv", "linear", "matmul", "recurrent"):
        return "weights"
    if row.kind in ("batchnorm", "activation", "pool", "add", "norm", "attention"):
        return row.kind
    return "other"


CONVS = {"Conv1d", "Conv2d", "Conv3d"}
CONV_TRANSPOSED = {"ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"}
BATCH_NORMS = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"}
INSTANCE_NORMS = {"InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"}
UPSAMPLES = {"Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"}
RECURRENTS = {"LSTM", "GRU", "RNN"}


def _recurrent_hooked(row, extra: dict) -> dict:
    """A hook's charge for an nn.LSTM, GRU or RNN, in the rule thop and ptflops share: per step,
    sequence, layer and direction, the products of the input and of the state (``gates * H * (I + H)``),
    ``extra[mode] * H`` for the gates' arithmetic, and both biases' ``2 * gates * H`` values."""
    s: Recurrent = row.spec
    x, o = row.origin.module_input, row.origin
    per_step = sum(s.gates * s.hidden * (i + s.hidden) for i in s.layer_inputs())
    gates = s.layers * extra[s.mode] * s.hidden
    bias = s.layers * 2 * s.gates * s.hidden if s.bias else 0
    runs = x[0] * x[1] * s.directions  # steps x sequences, whichever comes first
    return {"weights": runs * per_step // o.batch, "other": runs * gates // o.batch, "bias": runs * bias // o.batch}

# ------------------------------------------------------------------------------------------ thop

THOP_ZERO = {"ZeroPad2d", "ReLU", "ReLU6", "LeakyReLU", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AdaptiveMaxPool1d",
             "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "Dropout", "PixelShuffle"}
THOP_RULES = (CONVS | CONV_TRANSPOSED | BATCH_NORMS | INSTANCE_NORMS | UPSAMPLES | THOP_ZERO
              | {"LayerNorm", "PReLU", "Softmax", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
                 "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "Linear"} | RECURRENTS)
# thop's cells: an LSTM's four products, c = f * c + i * g (3 per value) and h = o * tanh(c) (1); a GRU's
# three, its three sigmoid and tanh inputs' adds (1 each), r * (.) (1) and (1 - z) * n + z * h (3)
THOP_GATES = {"lstm": 8, "gru": 7, "rnn_tanh": 1, "rnn_relu": 1}
THOP_UPSAMPLE = {"nearest": 1, "linear": 5, "bilinear": 11, "bicubic": 224 + 35}


def thop_counted(row) -> bool:
    """thop hooks the leaf modules of the classes it has a rule for, and only those count."""
    return row.origin.leaf and row.origin.call >= 0 and nn_class(row) in THOP_RULES


def thop_ops(row) -> dict:
    """thop's charge for a module call, on the call's first row: its rule over the module's input
    ``x`` and output ``y``."""
    o, t = row.origin, nn_class(row)
    if not thop_counted(row) or not o.first_row or t in THOP_ZERO:
        return {}
    x, y = o.module_input, o.module_output
    if t in CONVS or t in CONV_TRANSPOSED:  # output elements x input channels / groups x kernel
        return {"weights": per_image(y, o.batch) * (x[1] // row.spec.groups) * _kernel(row.spec)}
    if t in BATCH_NORMS or t in INSTANCE_NORMS or t == "LayerNorm":
        affine = o.attr("affine", False) or o.attr("elementwise_affine", False)
        return {_cause(row): 2 * per_image(x, o.batch) * (2 if affine else 1)}
    if t == "Linear":
        return {"weights": o.attr("in_features") * per_image(y, o.batch)}
    if t in ("AvgPool1d", "AvgPool2d", "AvgPool3d"):
        return {"pool": per_image(y, o.batch)}
    if t.startswith("AdaptiveAvgPool"):  # (the window's size + 1) per output element, in floats as thop does
        window = 1.0
        for i, j in zip(x[2:], y[2:]):
            window *= float(i) / float(j)
        return {"pool": int((window + 1) * per_image(y, o.batch))}
    if t in UPSAMPLES:
        return {"other": THOP_UPSAMPLE.get(o.attr("mode"), 0) * per_image(y, o.batch)}
    if t == "Softmax":
        n = x[o.attr("dim")]
        return {"other": per_image(x, o.batch) // n * (3 * n - 1)}
    if t == "PReLU":
        return {"activation": per_image(x, o.batch)}
    if t in RECURRENTS and isinstance(row.spec, Recurrent):
        return _recurrent_hooked(row, THOP_GATES)
    return {}


# --------------------------------------------------------------------------------------- ptflops

PTFLOPS_ACTIVATIONS = {"ReLU", "PReLU", "ELU", "LeakyReLU", "ReLU6", "GELU"}
PTFLOPS_POOLS = {"MaxPool1d", "AvgPool1d", "AvgPool2d", "MaxPool2d", "MaxPool3d", "AvgPool3d", "AdaptiveMaxPool1d",
                 "AdaptiveAvgPool1d", "AdaptiveMaxPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool3d",
                 "AdaptiveAvgPool3d"}
PTFLOPS_NORMS = BATCH_NORMS - {"SyncBatchNorm"} | INSTANCE_NORMS | {"GroupNorm", "LayerNorm"}
PTFLOPS_MODULES = (CONVS | CONV_TRANSPOSED | PTFLOPS_ACTIVATIONS | PTFLOPS_POOLS | PTFLOPS_NORMS
                   | {"Linear", "Upsample", "MultiheadAttention"} | RECURRENTS)
# ptflops' cells: an LSTM's 4 adds of both states' products, 3 for c and 3 for h; a GRU's 1 + 3 + 3
PTFLOPS_GATES = {"lstm": 10, "gru": 7, "rnn_tanh": 1, "rnn_relu": 1}
# The functions ptflops replaces while it counts: each call charges its input's elements.
PTFLOPS_NUMEL = {F + n for n in ("relu", "prelu", "elu", "relu6", "gelu", "silu", "softmax", "avg_pool1d",
                                 "avg_pool2d", "avg_pool3d", "max_pool1d", "max_pool2d", "max_pool3d",
                                 "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
                                 "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d")}
PTFLOPS_RESIZE = {F + "interpolate", F + "upsample"}
PTFLOPS_PRODUCTS = {"torch.matmul", "torch.Tensor.matmul", "torch.mm", "torch.Tensor.mm", "torch.bmm",
                    "torch.Tensor.bmm"}
PTFLOPS_ADDMM = {"torch.addmm", "torch.Tensor.addmm", "torch.baddbmm"}
PTFLOPS_ELEMENTWISE = {"torch.mul", "torch.Tensor.mul", "torch.add", "torch.Tensor.add"}


def ptflops_module(row) -> dict:
    """ptflops' module hook, on the first row of a call of a module of a class it maps, unless a module
    around it has a hook too: it sums a model's counts down to the first module it maps, not below."""
    o, t = row.origin, nn_class(row)
    if not o.first_row or any(_ptflops_maps(c) for c in o.outer):
        return {}
    x, y = o.module_input, o.module_output
    if o.type in TIMM_ATTENTION:  # its rule for timm's ViT attention: the products and softmax, not the
        n, heads, d = x[1], o.attr("num_heads"), o.attr("head_dim")  # projections (they are not summed)
        return {"attention": x[0] * (n * d * heads + heads * (2 * n * n * d + n * n)) // o.batch}
    if t not in PTFLOPS_MODULES:
        return {}
    if t in CONVS or t in CONV_TRANSPOSED:
        s = row.spec
        per_position = _kernel(s) * s.in_c * (s.out_c // s.groups)
        positions = per_image(x, o.batch) // x[1] if t in CONV_TRANSPOSED else per_image(y, o.batch) // y[1]
        return {"weights": per_position * positions, "bias": per_image(y, o.batch) if s.bias else 0}
    if t in PTFLOPS_ACTIVATIONS:
        return {"activation": per_image(y, o.batch)}
    if t in PTFLOPS_POOLS:
        return {"pool": per_image(x, o.batch)}
    if t in PTFLOPS_NORMS:  # ``module.affine``: a layer norm has none (elementwise_affine), so 1
        return {_cause(row): per_image(x, o.batch) * (2 if o.attr("affine", False) else 1)}
    if t == "Linear":
        out = y[-1]
        rows_ = math.prod(x[:-1]) // o.batch  # every position of the input, per image
        return {"weights": x[-1] * out * rows_, "bias": (out if o.attr("bias") else 0) * rows_}
    if t == "Upsample":
        return {"other": per_image(y, o.batch)}
    if t in RECURRENTS and isinstance(row.spec, Recurrent):
        return _recurrent_hooked(row, PTFLOPS_GATES)
    if t == "MultiheadAttention":  # self-attention: q, k and v of one shape
        first = o.attr("batch_first", False)
        length, dim = (x[1], x[2]) if first else (x[0], x[2])
        heads = o.attr("num_heads")
        flops = length * dim + 3 * length * dim * dim
        if o.attr("in_proj_bias"):
            flops += 3 * length * dim
        flops += heads * (length * length * (dim // heads) * 2 + length * length)
        flops += length * dim * (dim + 1)
        batch = x[0] if first else x[1]
        return {"attention": flops * batch // x[0]}
    return {}


# ptflops maps timm's ViT attention when timm imports (timm.models.vision_transformer.Attention, which
# timm 1.0 defines in timm.layers.attention), with its own rule
TIMM_ATTENTION = {"timm.models.vision_transformer.Attention", "timm.layers.attention.Attention"}


def _ptflops_maps(cls: str) -> bool:
    return cls in TIMM_ATTENTION or (cls.startswith(NN) and cls.rsplit(".", 1)[-1] in PTFLOPS_MODULES)


def ptflops_function(row) -> dict:
    """What ptflops' replaced functions charge for a row the code reached by calling one of them by
    name (``x + y`` and ``x @ y`` do not go through them)."""
    o = row.origin
    if o.operator:
        return {}
    if o.api in PTFLOPS_NUMEL:
        return {_cause(row): row_elements(row, row.input_shape)}
    if o.api in PTFLOPS_RESIZE:
        return {"other": row_elements(row, row.output_shape)}
    if o.api in PTFLOPS_PRODUCTS:
        return {"weights": row.macs}
    if o.api in PTFLOPS_ADDMM:
        return {"weights": row.macs, "bias": row_elements(row, row.output_shape)}
    if o.api in PTFLOPS_ELEMENTWISE:
        return {_cause(row): row_elements(row, row.output_shape)}
    return {}


# The ATen operations ptflops' aten backend counts: aten.mm, addmm (with its bias), bmm and convolution,
# as autograd leaves them (flopcalc records above autograd: linear, matmul and einsum come to those).
PTFLOPS_ATEN = {"mm", "addmm", "bmm", "matmul", "linear", "einsum", "convolution", "_convolution",
                "_convolution_mode", "conv1d",
                "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}


def ptflops_aten_ops(row) -> dict:
    """Products, and biases where they are part of one (a linear's input that is not contiguous gets
    a matrix product and then an add, which it does not count)."""
    o = row.origin
    if isinstance(row.spec, Attention) and (row.spec.math or row.spec.learned_mask):  # torch's math path, two
        return {"attention": row.macs}  # bmm (it runs the model with gradients: a learned mask requires them)
    if isinstance(row.spec, Recurrent):
        return _recurrent_aten(row)
    if o.aten not in PTFLOPS_ATEN:
        return {}
    bias = isinstance(row.spec, (Conv2d, ConvNd, Linear)) and row.spec.bias and o.folded
    return {"weights": row.macs, "bias": row_elements(row, row.output_shape) if bias else 0}


def _recurrent_aten(row) -> dict:
    """A recurrent layer as torch runs it on the CPU: an LSTM as one oneDNN kernel (``mkldnn_rnn_layer``,
    which nothing counts); a GRU or RNN as ATen products, per layer and direction one ``linear`` of the
    whole input sequence and one of the state per step, each ``addmm`` with its bias folded in, except
    the first layer's input product when the input is not contiguous steps first (a batch-first
    input at a batch above 1): ``mm`` and an add."""
    s: Recurrent = row.spec
    if s.mode == "lstm":
        return {}
    products = 2 * s.layers - (0 if row.origin.folded else 1)
    bias = row.macs * products // sum(i + s.hidden for i in s.layer_inputs()) if s.bias else 0
    return {"weights": row.macs, "bias": bias}


# ------------------------------------------------------------------------------------- torchinfo


def torchinfo_ops(row) -> dict:
    """torchinfo, for each call of a leaf module, on its first row: every parameter tensor named
    ``weight`` or ``bias`` charges its size times the output's positions in a class whose name has
    "Conv", else its size times the output's first dimension (the batch, or windows of it); one with
    "weight" or "bias" inside its name, its size times the output's first two dimensions."""
    o = row.origin
    if not (o.leaf and o.first_row and o.call >= 0):
        return {}
    conv = "Conv" in o.type.rsplit(".", 1)[-1]
    y = o.module_output
    total = 0
    for name, numel in o.module_params:
        if name in ("weight", "bias"):
            total += numel * (y[0] * math.prod(y[2:]) if conv else y[0])
        elif "weight" in name or "bias" in name:
            total += numel * math.prod(y[:2])
    return {_cause(row): total // o.batch} if total else {}


# ---------------------------------------------------------------------------------- torchprofile


def torchprofile_ops(row) -> dict:
    """torchprofile counts operations of torch.jit's trace: products without biases, ``aten::mul``
    (every element of its output), an affine norm (one per output element), average pooling and
    means (one per output element), bilinear upsampling (4 per output element); nothing else."""
    s = row.spec
    out = row_elements(row, row.output_shape)
    o = row.origin
    sizes = o.size_products if o is not None else 0  # the code's products of sizes: in a trace, each
    if o is not None and nn_class(row) == "MultiheadAttention" and o.first_row:  # an aten::mul of one
        sizes += 4  # element, charged 1 (per run); torch's multi-head attention multiplies sizes four times
    if sizes:
        return {**torchprofile_ops(row._replace(origin=None)), "sizes": sizes}
    if o is not None and o.aten == "_convolution_mode":  # a convolution with padding "same": not handled
        return {}
    if isinstance(s, ConvNd) and s.transposed:  # its weight's first dimension taken as the input channels
        return {"weights": out * s.in_c * math.prod(s.kernel)}
    if isinstance(s, Einsum) and "..." in s.equation:
        return {}
    if isinstance(s, Recurrent):  # a handler for aten::lstm only, the products of both
        return {"weights": row.macs} if s.mode == "lstm" else {}
    if isinstance(s, (Conv2d, ConvNd, Linear, MatMul, Einsum)):
        return {"weights": row.macs}
    if isinstance(s, Attention):
        return {"attention": row.macs}
    if isinstance(s, (BatchNorm2d, Normalization)):
        return {_cause(row): out} if s.affine else {}
    if isinstance(s, GlobalAvgPool) or (isinstance(s, (Pool2d, AdaptivePool)) and s.mode == "avg"):
        return {"pool" if isinstance(s, GlobalAvgPool) else "other": out}
    if isinstance(s, (ChannelScale, LayerScale)) or (isinstance(s, Elementwise) and s.fn == "mul"):
        return {_cause(row): out}
    if isinstance(s, MultiQueryAttention):  # aten::scaled_dot_product_attention: its two products
        return {"attention": row.macs}
    if isinstance(s, Elementwise) and s.fn == "leaky_relu" and not (o is not None and o.aten.endswith("_")):
        return {"activation": out}  # aten::leaky_relu; it has no handler for the in-place leaky_relu_
    if isinstance(s, Reduction) and s.fn == "mean":
        return {"other": out}
    if isinstance(s, Resize) and s.mode == "bilinear":
        return {"other": 4 * out}
    return {}


# -------------------------------------------------------------------------------------- calflops

CALFLOPS_LINEAR = {F + "linear"}
CALFLOPS_CONVS = {F + n for n in ("conv1d", "conv2d", "conv3d")}
CALFLOPS_CONV_TRANSPOSED = {F + n for n in ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")}
CALFLOPS_PRODUCTS = {"torch.matmul", "torch.Tensor.matmul", "torch.addmm", "torch.Tensor.addmm", "torch.baddbmm"}


def calflops_ops(row) -> dict:
    """calflops' MACs: the functions it replaces by name that have products (F.linear, the
    convolutions, torch.matmul, addmm, baddbmm); not torch.mm, torch.bmm, einsum or attention."""
    o, s = row.origin, row.spec
    if o.operator:
        return {}
    if o.api in CALFLOPS_LINEAR or o.api in CALFLOPS_CONVS or o.api in CALFLOPS_PRODUCTS:
        return {"weights": row.macs}
    if o.api in CALFLOPS_CONV_TRANSPOSED:  # positions of the input x kernel x in x out / groups
        return {"weights": math.prod(row.input_shape[1:]) * math.prod(s.kernel) * s.in_c
                * (s.out_c // s.groups)}
    return {}


# ------------------------------------------------------------------------------------- onnx-tool

# onnx-tool 1.0.1 charges a node per output element by its kind (its own constants, in "MACs":
# a comparison or an add 1, a division 4, a square root 24, an exponential or a power 32, a log 43).
ONNX_TOOL_ELEMENTWISE = {"add": 1, "sub": 1, "mul": 1, "div": 4, "mod": 1, "neg": 1, "max": 1, "min": 1,
                         "pow": 32, "sqrt": 24, "exp": 32, "softmax": 36, "softplus": 76, "tanh": 76, "gelu": 34,
                         "leakyrelu": 2, "leaky_relu": 2, "elu": 35, "reciprocal": 4, "log": 43, "sin": 39,
                         "cos": 39, "equal": 1, "less": 1, "greater": 1, "erf": 0, "where": 0}
ONNX_TOOL_ACTIVATIONS = {"relu": 1, "relu6": 2, "hardswish": 5, "hardsigmoid": 4, "sigmoid": 32,
                         "gelu": ONNX_TOOL_ELEMENTWISE["gelu"]}
ONNX_TOOL_BATCHNORM = 1 + 24 + 4 + 1 + 1  # add, sqrt, div, add, mul per element


def onnx_tool_ops(row) -> dict:
    """onnx-tool's MACs of a graph node (its ``profile``): products plus one add per output of a bias;
    every other node by its per-element constant; a batch norm 31 per element; a layer norm 7 per
    element and 29 per normalized row; a global average 1 per input and 4 per output element."""
    from .spec import Activation, ResidualAdd
    if row.origin is not None and row.origin.type.startswith("onnx.") and not row.origin.module_output:
        return {}  # a scalar (a scale computed from sizes): its volume is 0 to onnx-tool
    s = row.spec
    out = row_elements(row, row.output_shape)
    x = row_elements(row, row.input_shape)
    if isinstance(s, (Conv2d, ConvNd, Linear)):
        return {"weights": row.macs, "bias": out if s.bias else 0}
    if isinstance(s, (MatMul, Einsum)):
        return {"weights": row.macs}
    if isinstance(s, BatchNorm2d):
        return {"batchnorm": ONNX_TOOL_BATCHNORM * out}
    if isinstance(s, Normalization) and s.kind == "layer":
        return {"norm": 7 * x + (1 + 24 + 4) * (x // s.channels)}
    if isinstance(s, Activation):
        return {"activation": ONNX_TOOL_ACTIVATIONS.get(s.fn.value, 0) * out}
    if isinstance(s, GlobalAvgPool):
        return {"pool": x if s.reduction == "mean" else x + 4 * out}
    if isinstance(s, (ResidualAdd, ChannelScale, LayerScale)):
        return {_cause(row): out}
    if isinstance(s, MultiQueryAttention):  # its two products (MatMul nodes), the softmax not counted here
        return {"attention": row.macs}
    if isinstance(s, Elementwise):
        return {_cause(row): ONNX_TOOL_ELEMENTWISE.get(s.fn, 0) * out}
    if isinstance(s, Reduction):
        return {"other": x}
    if isinstance(s, Pool2d):
        return {"other": s.kernel * s.kernel * out}
    if isinstance(s, Resize):
        return {"other": {"linear": 4, "bilinear": 4, "cubic": 8, "bicubic": 8}.get(s.mode, 0) * out}
    return {}

"""Counting conventions: what each tool, paper or table counts, as rules over the analyzer's rows.

The analyzer records each layer once (kind, shapes, parameters, multiply-adds). A
:class:`Convention` turns that record into the numbers one counter reports: which
parameters it counts (biases? batch-norm values, and how many per channel?) and which
operations it charges beside the conv and fully connected multiply-adds (batch norm per
element, activations, pooling, biases), in multiply-add units, and whether it prints two
flops per multiply-add. Where a counter's number comes from another *architecture* (TF-Slim's
1001 classes, Keras' channel rounding) the convention names the zoo arguments instead
(``classes``, ``rounding``); it never describes the network a second time.

Every rule was worked out from the tool's source and confirmed against the tool run live on
flopcalc's own PyTorch model (``tests/nn/test_peers.py``, ``flopcalc reconcile --live``) or against
the published table it reproduces (``tests/core/test_published.py``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable, Optional

from .walk import DEFAULT_CONVENTION, Analysis, LayerRow, Total, count_layers as _analyze, sum_counts
from .costs import KIND_DESCRIPTIONS, MULTIPLY_ADD_KINDS, einsum_sizes
from .spec import (BatchNorm2d, Conv2d, Linear, MultiQueryAttention, SpecError, elements)
from .operations import AdaptivePool, ConvNd, Einsum, Recurrent, Resize
from . import capture
from .zoo import DEFAULT_CLASSES, DEFAULT_RESOLUTION

# What a count is made of. The parameters and operations of every layer fall into exactly
# one of these, so two conventions differ by a sum over causes (``flopcalc reconcile``).
CAUSES = ("weights", "bias", "batchnorm", "activation", "pool", "add", "norm", "attention", "other", "sizes")
# causes counted once per run, not per image: a trace's arithmetic on sizes does not grow with the batch
PER_RUN = {"sizes"}
CAUSE_TEXT = {
    "weights": "conv and fully connected weights and their multiply-adds",
    "bias": "conv and fully connected biases (one add per output element)",
    "batchnorm": "batch norm (values per channel, operations per element)",
    "activation": "activations, per element",
    "pool": "global average pooling, per input element",
    "add": "residual adds, per element",
}

Parts = dict  # cause -> int


def _bias(row: LayerRow) -> int:
    """Bias values of a conv or linear layer."""
    s = row.spec
    if isinstance(s, (Conv2d, ConvNd)) and s.bias:
        return s.out_c
    if isinstance(s, Linear) and s.bias:
        return s.out_features
    return 0


def _bias_ops(row: LayerRow) -> int:
    """One add per output element for each bias: N * H_out * W_out for a conv, N for a linear."""
    return elements(row.output_shape) if _bias(row) else 0


def _bn(row: LayerRow) -> tuple[int, bool]:
    s: BatchNorm2d = row.spec  # type: ignore[assignment]
    return s.num_features, s.affine


# -------------------------------------------------------------------- parameter rules


def learnable(row: LayerRow) -> Parts:
    """What ``sum(p.numel() for p in model.parameters())`` counts: weights, biases, gamma and beta.
    A recorded module called twice has its parameters on its first row only (``row.params`` 0 on
    the others), so they are counted once."""
    if row.kind in MULTIPLY_ADD_KINDS:
        b = min(_bias(row), row.params)
        return {"weights": row.params - b, "bias": b}
    if row.kind == "batchnorm":
        return {"batchnorm": row.params}
    if row.params:  # a recorded module's norm, embedding or parameter used in an operation
        return {"weights": row.params}
    return {}


def weights_only(row: LayerRow) -> Parts:
    """Conv and fully connected weights; no biases, no batch norm (folded into the convs)."""
    return {"weights": max(0, row.params - _bias(row))} if row.kind in MULTIPLY_ADD_KINDS else {}


def _stored_bn(per_channel: int) -> Callable[[LayerRow], Parts]:
    """Learnable weights and biases, and ``per_channel`` stored values per batch-norm channel."""
    def rule(row: LayerRow) -> Parts:
        if row.kind == "batchnorm":
            return {"batchnorm": per_channel * _bn(row)[0]}
        return learnable(row)
    return rule


def _tfslim_params(row: LayerRow, model: str) -> Parts:
    # The two TF-Slim tables count differently: V1's is every checkpoint value (slim's batch
    # norm has no gamma: beta, moving mean, moving variance = 3 per channel); V2's leaves
    # batch norm out. Both count the classifier's bias (a 1x1 conv with bias there).
    return _stored_bn(3)(row) if model == "mobilenet_v1" else {
        k: v for k, v in learnable(row).items() if k != "batchnorm"}


def _keras_params(row: LayerRow) -> Parts:
    # count_params() sums every weight: gamma, beta, moving mean, moving variance per channel
    if row.kind == "batchnorm":
        c, affine = _bn(row)
        return {"batchnorm": (4 if affine else 2) * c}
    return learnable(row)


# -------------------------------------------------------------------- operation rules


def conv_linear(row: LayerRow) -> Parts:
    """The papers' Mult-Adds: multiply-adds of conv and fully connected layers."""
    if row.kind == "attention":  # a recorded model's attention products: a cause of their own
        return {"attention": row.macs}
    return {"weights": row.macs} if row.macs else {}


def _math_path(row: LayerRow) -> bool:
    """Attention that torch runs on the CPU as its math path, two ``bmm``: a recorded call's, as recorded;
    the zoo's multi-query attention (keys and values of one head, broadcast to the queries' heads) where
    the installed torch does so (:func:`~flopcalc.capture.broadcast_heads_take_math_path`)."""
    s = row.spec
    if isinstance(s, MultiQueryAttention):
        return s.heads > 1 and capture.broadcast_heads_take_math_path()
    return getattr(s, "math", False)


def _flop_counter_ops(row: LayerRow) -> Parts:
    # torch 2.13's FlopCounterMode registers the CUDA attention kernels; on CPU scaled dot-product
    # attention runs _scaled_dot_product_flash_attention_for_cpu, which it has no formula for: 0;
    # unless torch takes its math path (two bmm, which it counts)
    if row.kind == "attention" and _math_path(row):
        return {"attention": row.macs}
    # An nn.MultiheadAttention with batch_first, in eval mode and without gradients, runs torch's
    # fused _native_multi_head_attention instead of its projections: no formula either, so 0.
    if isinstance(row.spec, Recurrent):  # as torch runs them on the CPU (capture's ptflops_aten rule)
        return {"weights": row.macs} if row.spec.mode != "lstm" else {}
    if row.kind == "attention" or (row.origin is not None and capture.nn_class(row) == "MultiheadAttention"
                                   and row.origin.attr("batch_first", False)):
        return {}
    return conv_linear(row)


def _fvcore_ops(row: LayerRow) -> Parts:
    if row.kind == "batchnorm" and getattr(row.spec, "batch_stats", False):  # as a norm: 5 per element, 4
        return {"batchnorm": (5 if _bn(row)[1] else 4) * elements(row.input_shape)}  # without affine
    if row.kind == "batchnorm":  # fvcore's batch_norm handle: scale and shift, folded or not
        return {"batchnorm": (2 if _bn(row)[1] else 1) * elements(row.output_shape)}
    if row.origin is not None and row.origin.aten == "_convolution_mode":  # padding "same": no handle
        return {}
    if row.kind == "pool":       # adaptive_avg_pool2d: one per input element; aten::mean it does not handle
        return {"pool": elements(row.input_shape)} if row.spec.reduction == "adaptive" else {}
    if isinstance(row.spec, AdaptivePool) and row.spec.mode == "avg":  # to any size; max pooling has no handle
        return {"other": elements(row.input_shape)}
    if isinstance(row.spec, Resize) and len(row.spec.size) == 2 and row.spec.mode in ("nearest", "bilinear"):
        return {"other": (1 if row.spec.mode == "nearest" else 4) * elements(row.output_shape)}
    if row.kind == "norm":       # its layer/group/instance norm handle: 5 per element with affine, else 4
        return {"norm": (5 if row.spec.affine else 4) * elements(row.input_shape)}
    if row.kind in ("attention", "recurrent"):  # aten::scaled_dot_product_attention, aten::lstm: no handle
        return {}
    if isinstance(row.spec, Einsum):
        return {"weights": _fvcore_einsum(row.spec)}
    return conv_linear(row)


def _fvcore_einsum(s: Einsum) -> int:
    """fvcore's einsum handle: two equations it knows (after renaming the indices a, b, c ... in
    order of appearance) count every product; any other takes NumPy's einsum_path estimate of an
    optimal contraction (2 per product where an index is summed) as NumPy prints it, to 4 digits,
    halved and floored. An image at a time, as the tools are run."""
    sizes, output = einsum_sizes(s.equation, s.operands)
    eq = s.equation.replace(" ", "")
    order = list(dict.fromkeys(c for c in eq if c.isalpha()))
    canonical = eq.translate({ord(c): 97 + i for i, c in enumerate(order)})
    product = math.prod(sizes.values())
    if canonical in ("abc,abd->acd", "abc,adc->adb"):
        return product
    summed = any(c not in output for c in sizes)
    return int(float(f"{product * (2 if summed else 1):.3e}") // 2)


# ptflops' default backend counts module hooks *and* patched torch.nn.functional calls:
# nn.ReLU's forward calls F.relu, so ReLU is counted twice; nn.ReLU6 goes through
# F.hardtanh, which is not patched, so once; F.silu is patched.
# flopcalc's built activations ptflops charges 1 per element for: by a module hook (nn.ReLU, nn.ReLU6),
# by a replaced function (F.relu inside nn.ReLU, F.silu); hard-swish and hard-sigmoid by neither
PTFLOPS_MODULES = {"relu", "relu6", "gelu"}
PTFLOPS_FUNCTIONS = {"relu", "silu", "gelu"}


def _ptflops_ops(row: LayerRow) -> Parts:
    """What ptflops' replaced functions charge (summed over the batch): F.relu (inside nn.ReLU too),
    F.silu, and flopcalc's pool's F.adaptive_avg_pool2d, one per input element."""
    if row.origin is not None:
        return capture.ptflops_function(row)
    if row.kind == "activation" and row.spec.fn.value in PTFLOPS_FUNCTIONS:
        return {"activation": elements(row.input_shape)}
    if row.kind == "pool":
        return {"pool": elements(row.input_shape)}
    return {}


def _ptflops_module_ops(row: LayerRow) -> Parts:
    """What ptflops' module hooks charge, which it averages over the batch: conv and linear with their
    biases, batch norm, and the nn.ReLU and nn.ReLU6 modules, one per element."""
    if row.origin is not None:
        return capture.ptflops_module(row)
    if row.kind in MULTIPLY_ADD_KINDS:
        return {"weights": row.macs, "bias": _bias_ops(row)}
    if row.kind == "batchnorm":
        return {"batchnorm": (2 if _bn(row)[1] else 1) * elements(row.input_shape)}
    if row.kind == "activation" and row.spec.fn.value in PTFLOPS_MODULES:
        return {"activation": elements(row.input_shape)}
    return {}


def _ptflops_aten_ops(row: LayerRow) -> Parts:
    if row.origin is not None:
        return capture.ptflops_aten_ops(row)
    if row.kind == "attention":  # aten.bmm where torch takes its math path
        return {"attention": row.macs} if _math_path(row) else {}
    if row.kind in MULTIPLY_ADD_KINDS:  # aten.convolution / aten.addmm, bias included
        return {"weights": row.macs, "bias": _bias_ops(row)}
    return {}


def _thop_ops(row: LayerRow) -> Parts:
    if row.origin is not None:
        return capture.thop_ops(row)
    if row.kind == "batchnorm":  # thop's count_normalization: 2 per element, twice again if affine
        return {"batchnorm": (4 if _bn(row)[1] else 2) * elements(row.input_shape)}
    if row.kind == "attention":  # a function inside a module it has no rule for
        return {}
    return conv_linear(row)      # bias ignored; modules without a rule (pool, add) count 0


def _torchinfo_ops(row: LayerRow) -> Parts:
    # torchinfo: for each parameter named weight or bias, numel * H_out * W_out in a module whose
    # class name contains "Conv", else numel: so a conv's bias counts per output element, a
    # linear's bias once per output, and batch norm its 2C parameters.
    if row.origin is not None:
        return capture.torchinfo_ops(row)
    if row.kind in MULTIPLY_ADD_KINDS:
        return {"weights": row.macs, "bias": _bias_ops(row)}
    if row.kind == "batchnorm":
        return {"batchnorm": row.params}
    return {}


def _thop_params(row: LayerRow, model: str) -> Parts:
    """thop counts the parameters of the modules it has a rule for, and no others: a module's own, once
    (not a class token or a layer scale of the model's that its operation happened to read first)."""
    o = row.origin
    if o is None:  # a layer scale's module has no rule: its values are not counted
        return {} if row.kind == "layer_scale" else learnable(row)
    if not capture.thop_counted(row) or not (o.first_row and o.first_call):
        return {}
    parts = learnable(row)
    own = sum(n for _, n in o.module_params) - row.params
    if own:
        parts["weights"] = parts.get("weights", 0) + own
    return parts


def _calflops_ops(row: LayerRow) -> Parts:
    # flopcalc's built MobileNets run nn.Conv2d and nn.Linear, which call F.conv2d and F.linear
    if row.origin is not None:
        return capture.calflops_ops(row)
    return {"weights": row.macs} if row.kind in MULTIPLY_ADD_KINDS else {}


# -------------------------------------------------------------------- conventions


@dataclass(frozen=True)
class Convention:
    """One counter's rules. ``ops``/``params`` map a row to its parts by cause (None: that
    counter reports no such number). ``ops`` are in multiply-add units; the counter prints
    ``flops_per_mac`` times that, under the name ``unit``."""

    name: str
    source: str
    unit: str
    ops_rule: str
    params_rule: str
    ops: Optional[Callable[[LayerRow], Parts]]
    params: Optional[Callable[[LayerRow, str], Parts]]
    flops_per_mac: int = 1
    classes: int = DEFAULT_CLASSES
    rounding: str = "torchvision"
    live: Optional[str] = None  # the installed tool that reports it (flopcalc reconcile --live)
    # the part of its count the tool divides by the batch (ptflops' module hooks: averaged over the images)
    averaged: Optional[Callable[[LayerRow], Parts]] = None

    def row_parts(self, row: LayerRow, model: str) -> tuple[Parts | None, Parts | None]:
        return (None if self.params is None else self.params(row, model),
                None if self.ops is None else self.ops(row))

    @property
    def key(self) -> str:
        """The name of this counter's operation count in flopcalc's output: ``macs`` where it counts
        multiply-adds of conv and fully connected layers and nothing else (or reports none), else the
        tool's name and unit (``fvcore_flops``, ``thop_macs``): a number that charges batch norm,
        pooling or two per multiply-add is not multiply-adds, so it is not called ``macs``."""
        if self.ops is None or (self.ops is conv_linear and self.flops_per_mac == 1):
            return "macs"
        return f"{self.name}_{self.unit.lower().replace('-', '_')}"

    @property
    def label(self) -> str:
        """The count named in prose: ``macs``, ``fvcore flops``, ``thop MACs``."""
        return "macs" if self.key == "macs" else f"{self.name} {self.unit}"

    def ref(self) -> dict:
        """The convention as every command's JSON names it."""
        return {"name": self.name, "key": self.key, "unit": self.unit or None, "flops_per_mac": self.flops_per_mac}

    @property
    def description(self) -> str:
        return f"{self.source}. Operations: {self.ops_rule} Parameters: {self.params_rule}"

    def count(self, row: LayerRow) -> int:
        """The operations this counter prints for one layer of a batch-1 analysis."""
        if self.ops is None:
            return 0
        return self.flops_per_mac * (sum(self.ops(row).values())
                                     + (sum(self.averaged(row).values()) if self.averaged else 0))

    def total(self, rows) -> int:
        return sum(self.count(r) for r in rows)


def _per_row(rule: Callable[[LayerRow], Parts]) -> Callable[[LayerRow, str], Parts]:
    return lambda row, model: rule(row)


LEARNABLE = "every learnable parameter: weights, biases, batch-norm gamma and beta"

CONVENTIONS: dict[str, Convention] = {c.name: c for c in (
    Convention(
        "pytorch", "flopcalc's default: the PyTorch model as torchvision builds it", "macs",
        "multiply-adds of conv and fully connected layers (batch norm folded into the conv; "
        "activations, pooling, adds and biases free), and the products of attention and matrix multiplies.",
        LEARNABLE + ": what sum(p.numel() for p in model.parameters()) gives; torchvision's num_params.",
        conv_linear, _per_row(learnable)),
    Convention(
        "paper", "the MobileNet papers (Howard et al. 2017, Sandler et al. 2018): Mult-Adds and parameters",
        "Mult-Adds", "multiply-adds of conv and fully connected layers.",
        "conv and fully connected weights: no biases, no batch norm (folded into the convs).",
        conv_linear, _per_row(weights_only)),
    Convention(
        "tfslim", "the TF-Slim checkpoint tables (tensorflow/models research/slim/nets/mobilenet)",
        "MACs", "multiply-adds of conv and classifier layers, 1001 classes (class 0 is background); "
        "V1's channels max(int(c * alpha), 8).",
        "V1's table: every checkpoint value (weights, the classifier's bias, and 3 per batch-norm "
        "channel: beta, moving mean, moving variance; slim's batch norm has no gamma). V2's table: "
        "weights and the classifier's bias, no batch norm.",
        conv_linear, _tfslim_params, classes=1001, rounding="tfslim"),
    Convention(
        "keras", "keras.applications MobileNet and MobileNetV2: model.count_params()", "",
        "none: Keras reports no operation count.",
        "every weight Keras holds: conv and classifier weights, the classifier's bias, and 4 per "
        "batch-norm channel (gamma, beta, moving mean, moving variance); V1's channels "
        "int(c * alpha), V2's block outputs make_divisible(int(c * alpha), 8).",
        None, _per_row(_keras_params), rounding="keras", live="keras"),
    Convention(
        "fvcore", "fvcore 0.1.5 FlopCountAnalysis(model, x).total() and parameter_count(model)['']",
        "flops",
        "conv, linear and matmul multiply-adds; batch norm 2 per output element (1 without affine), "
        "layer and group norm 5 (4); adaptive average pooling 1 per input element; nearest and bilinear "
        "upsampling 1 and 4 per output element; ReLU ignored; ReLU6 "
        "(aten::hardtanh_), residual adds (aten::add), x.mean() and attention unsupported, so 0; biases "
        "not counted.",
        LEARNABLE + ".", _fvcore_ops, _per_row(learnable), live="fvcore"),
    Convention(
        "flop_counter", "torch.utils.flop_counter.FlopCounterMode().get_total_flops()",
        "flops",
        "2 flops per multiply-add of convolution and matrix multiply; nothing else (not even scaled "
        "dot-product attention on CPU, or a batch-first nn.MultiheadAttention run without gradients, "
        "whose fused kernels it has no formula for).",
        "none: FlopCounterMode counts no parameters.",
        _flop_counter_ops, None, flops_per_mac=2, live="flop_counter"),
    Convention(
        "ptflops", "ptflops 0.7.5 get_model_complexity_info(model, (C, H, W)) with its default "
        "backend, 'pytorch'", "MACs",
        "conv and linear multiply-adds plus one per output element of each bias; batch norm 2 per "
        "element (1 without affine); ReLU 2 per element (the nn.ReLU module hook and the patched "
        "F.relu inside it both count), ReLU6 1 (F.hardtanh is not patched), SiLU 1; global average "
        "pooling 1 per input element; residual adds 0. What its module hooks count is divided by the "
        "batch (averaged over the images); what its replaced functions count is not.",
        LEARNABLE + " (those with requires_grad).", _ptflops_ops, _per_row(learnable), live="ptflops",
        averaged=_ptflops_module_ops),
    Convention(
        "ptflops_aten", "ptflops 0.7.5 get_model_complexity_info(..., backend='aten')", "MACs",
        "aten.convolution and aten.addmm/aten.mm only: conv and linear multiply-adds plus one per "
        "output element of each bias; nothing else.",
        LEARNABLE + ".", _ptflops_aten_ops, _per_row(learnable), live="ptflops_aten"),
    Convention(
        "thop", "thop 0.1.1 profile(model, inputs=(x,))", "MACs",
        "conv and linear multiply-adds (biases ignored); batch norm 4 per element (2 without "
        "affine); activations, pooling, adds and modules it has no rule for 0.",
        LEARNABLE + " (of the modules thop has a rule for: here all of them).",
        _thop_ops, _thop_params, live="thop"),
    Convention(
        "torchinfo", "torchinfo 1.8.0 summary(model, input_size).total_mult_adds / .total_params",
        "mult-adds",
        "for every parameter tensor named weight or bias: numel x H_out x W_out in conv layers, "
        "numel elsewhere; so conv multiply-adds plus one per output element of each conv bias, "
        "linear multiply-adds plus its bias, batch norm its 2C parameters; nothing else.",
        LEARNABLE + ".", _torchinfo_ops, _per_row(learnable), live="torchinfo"),
    Convention(
        "torchprofile", "torchprofile 0.1.0 profile_macs(model, x), over torch.jit's trace", "MACs",
        "products of conv, linear, matmul, einsum and attention (biases not counted); every aten::mul 1 per "
        "output element; affine batch, layer, group and instance norm 1 per output element; average pooling "
        "and means 1 per output element; bilinear upsampling 4; the rest 0.",
        "none: profile_macs counts no parameters.",
        capture.torchprofile_ops, None, live="torchprofile"),
    Convention(
        "calflops", "calflops 0.3.2 calculate_flops(model, input_shape) MACs and params", "MACs",
        "the products of the functions it replaces by name: F.linear, F.conv*, torch.matmul, addmm and "
        "baddbmm (biases not counted); not torch.mm, torch.bmm, einsum, scaled dot-product attention or x @ y.",
        LEARNABLE + ".", _calflops_ops, _per_row(learnable), live="calflops"),
    Convention(
        "onnx_tool", "onnx-tool 1.0.1 Model(path).graph: shape_infer(), profile(), graph.macs and graph.params "
        "(an ONNX file's graph)", "MACs",
        "per node: conv and Gemm/MatMul multiply-adds plus one add per output element of a bias; every "
        "other node by its per-element constant (an add, a comparison or a ReLU 1, a Clip 2, a division 4, "
        "a square root 24, an exponential or a sigmoid 32); batch norm 31 per element, layer norm 7 per "
        "element and 29 per row, a global average pool 1 per input and 4 per output element. Over the "
        "layers as they are: flopcalc export folds batch norm into the convs, so count the exported file "
        "for that graph's number.",
        "the graph's initializers (the file's own parameters).",
        capture.onnx_tool_ops, _per_row(learnable), live="onnx_tool"),
)}
DEFAULT = DEFAULT_CONVENTION


def get_convention(name: object) -> Convention:
    if not isinstance(name, str) or name not in CONVENTIONS:
        raise SpecError(f"unknown convention {name!r}; known: {', '.join(CONVENTIONS)}")
    return CONVENTIONS[name]


# -------------------------------------------------------------------- analysis


@dataclass(frozen=True)
class Counted:
    """An analysis under a convention: ``layers`` carry that convention's params and macs
    (None where it reports none), ``reported`` is the number the counter prints."""

    analysis: Analysis          # the architecture's own analysis (flopcalc's default counts)
    convention: Convention
    layers: tuple[LayerRow, ...]
    parts: tuple[tuple[Parts | None, Parts | None], ...]  # per layer: (params, ops) by cause
    total: Total                # params / macs may be None
    by_kind: dict[str, Total]

    @property
    def reported(self) -> int | None:
        m = self.total.macs
        return None if m is None else m * self.convention.flops_per_mac


def count(a: Analysis, convention: str | Convention = DEFAULT, *, averaged: bool = True) -> Counted:
    """``a``'s rows under a convention. The architecture is ``a``'s own: use :func:`analyze`
    for the convention's architecture (its classes and channel rounding). The operations are the
    whole batch's, but for the part a tool averages over the images (ptflops' module hooks), per image
    as it prints it (``averaged``) or over the batch too (reconcile's causes)."""
    conv = convention if isinstance(convention, Convention) else get_convention(convention)
    batch = a.batch
    rows, parts = [], []
    for r in a.layers:
        one = r._replace(macs=r.macs // batch)
        p, o = conv.row_parts(one, a.model)
        if o is not None:  # the operations of the whole batch (once, for what a run does once)
            once = r.origin is not None and r.origin.per_run
            o = {k: v if k in PER_RUN or once else batch * v for k, v in o.items()}
            for k, v in (conv.averaged(one) if conv.averaged else {}).items():
                o[k] = o.get(k, 0) + (v if averaged else batch * v)
        parts.append((p, o))
        rows.append(r._replace(params=None if p is None else sum(p.values()),
                               macs=None if o is None else sum(o.values())))
    kinds: dict[str, list] = {}
    for r in rows:
        kinds.setdefault(r.kind, []).append(r)
    order = [k for k in KIND_DESCRIPTIONS if k in kinds] + [k for k in kinds if k not in KIND_DESCRIPTIONS]
    by_kind = {k: Total(sum_counts(r.params for r in kinds[k]), sum_counts(r.macs for r in kinds[k])) for k in order}
    total = Total(sum_counts(t.params for t in by_kind.values()), sum_counts(t.macs for t in by_kind.values()))
    return Counted(a, conv, tuple(rows), tuple(parts), total, by_kind)


def architecture(convention: str | Convention, num_classes: int | None = None) -> tuple[int, str]:
    """The (classes, rounding) a convention's number is for; an explicit ``num_classes`` wins."""
    conv = convention if isinstance(convention, Convention) else get_convention(convention)
    return (conv.classes if num_classes is None else num_classes), conv.rounding


def analyze(model, alpha: float = 1.0, resolution=DEFAULT_RESOLUTION, num_classes: int | None = None, *,
            batch: int = 1, convention: str = DEFAULT, full_conv: bool = False,
            small_input: bool = False) -> Analysis:
    """Per-layer output shapes, parameters and multiply-adds of a model, counted as a
    convention counts them (:data:`CONVENTIONS`; flopcalc's own, ``"pytorch"``, by default).

    ``num_classes`` defaults to the convention's (1000; TF-Slim's 1001). Under a convention
    that reports no parameter (or operation) count, those totals are None. ``macs`` are in
    multiply-add units; the counter prints them times its ``flops_per_mac`` (2 for flop_counter).
    """
    conv = get_convention(convention)
    classes, rounding = architecture(conv, num_classes)
    base = _analyze(model, alpha, resolution, classes, batch=batch, rounding=rounding, full_conv=full_conv,
                    small_input=small_input)
    return counted_as(base, conv)


def counted_as(base: Analysis, convention: str | Convention) -> Analysis:
    """An analysis in flopcalc's own count (the walk's, or a recorded module's) counted as
    ``convention`` counts: the same Analysis, its rows and totals that convention's."""
    conv = convention if isinstance(convention, Convention) else get_convention(convention)
    if conv.name == DEFAULT:
        return base
    c = count(base, conv)
    return dataclasses.replace(base, layers=c.layers, total=c.total, by_kind=c.by_kind,
                               config={**base.config, "convention": conv.name}, convention=conv.name)


# The aten operations fvcore's FlopCountAnalysis has no handle for in these models (so counts
# as 0 and lists as unsupported), and what each is: verify names them.
FVCORE_UNSUPPORTED = {"aten::hardtanh_": "ReLU6", "aten::hardtanh": "ReLU6",
                      "aten::add": "residual add", "aten::add_": "residual add",
                      "aten::hardswish_": "hard-swish", "aten::hardswish": "hard-swish",
                      "aten::hardsigmoid": "hard-sigmoid", "aten::hardsigmoid_": "hard-sigmoid",
                      "aten::mul": "squeeze-and-excitation or layer scale", "aten::silu_": "SiLU",
                      "aten::silu": "SiLU", "aten::sigmoid": "sigmoid", "aten::gelu": "GELU",
                      "aten::scaled_dot_product_attention": "attention"}

# The conventions verify checks layer by layer against the built model.
FVCORE = CONVENTIONS["fvcore"]
FLOP_COUNTER = CONVENTIONS["flop_counter"]
PAPER = CONVENTIONS["paper"]

"""Any PyTorch module, counted: run it once on fake tensors (no compute, no activation memory)
under a dispatch-level recorder that keeps its own module stack, and turn every ATen operation
it sees into the analyzer's rows. The rows carry the same layer specs the zoo's rows carry, so
every cost formula, convention, view and output format applies unchanged: a recorded model is
one more front end, not a second table.

What the recorder sees: every ATen operation, functional calls and tensor methods included,
attributed to the innermost module running when it was called (torch's global forward hooks
keep the stack). A leaf module that ran one counted operation gives one row named after the
module; any other operation gets a row named ``module.op`` (``layer1.0.add``), numbered when a
module runs it more than once. Each call is a row, so a module called twice gives two rows; a
parameter is charged to the first row that uses it, so the parameter total is
``sum(p.numel())`` however often a module runs.

An operation with compute but no formula here is never a silent zero: it is listed in
:attr:`Recording.uncounted` (operation, calls, modules) and the views print it.
"""

from __future__ import annotations

import contextlib
import dis
import math
import operator
import os
import sys
import warnings
from dataclasses import dataclass, field, replace

import torch
from torch import nn
from torch.overrides import TorchFunctionMode, resolve_name
from torch.utils._python_dispatch import TorchDispatchMode

from ..capture import broadcast_heads_take_math_path
from ..costs import layer_cost
from ..errors import UserError
from ..spec import (Act, Activation, BatchNorm2d, ChannelScale, Conv2d, Dropout, GlobalAvgPool, Linear, ResidualAdd)
from ..operations import (AdaptivePool, Attention, BatchNormNd, ConvNd, Einsum, Elementwise, Embedding, MatMul,
                          Normalization, Pool2d, Recurrent, Reduction, Resize)
from ..walk import DEFAULT_CONVENTION, Analysis, LayerRow, Origin, totals

# Operations that move or relabel data and compute nothing (views, copies, shape changes).
FREE = {
    "view", "_unsafe_view", "reshape", "flatten", "unflatten", "t", "transpose", "permute", "contiguous",
    "expand", "squeeze", "unsqueeze", "clone", "detach", "alias", "slice", "select", "split", "split_with_sizes",
    "chunk", "cat", "stack", "narrow", "empty", "empty_like", "zeros", "zeros_like", "ones", "ones_like",
    "new_empty", "new_zeros", "_to_copy", "to", "copy_", "lift_fresh", "size", "sym_size", "dim", "numel",
    "unbind", "repeat", "arange", "full", "scalar_tensor", "type_as", "view_as", "reshape_as", "expand_as",
    "movedim", "swapaxes", "flatten_dense_tensors", "_reshape_alias", "as_strided", "index_select",
    "device", "layout", "dtype", "is_contiguous", "stride", "storage_offset",
    "index", "gather", "roll", "pad", "constant_pad_nd", "zero_", "fill_", "new_ones", "new_full", "full_like",
    "masked_select", "flip", "tile", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle",
    "repeat_interleave", "im2col", "col2im", "unfold", "fold", "triu", "tril", "bitwise_not",
}
# Operations whose output has their first input's shape and dtype, which fake tensors would still
# run through a decomposition (batch norm's, over a dozen operations): the recorder makes the output.
SAME_SHAPE = {"batch_norm", "layer_norm", "group_norm", "instance_norm"}
# Elementwise functions of one tensor (no multiply-adds): rows of kind "activation".
UNARY = {"gelu", "tanh", "softmax", "_softmax", "log_softmax", "_log_softmax", "exp", "erf", "sqrt", "rsqrt", "neg",
         "abs", "sin", "cos", "clamp", "clamp_min", "clamp_max", "leaky_relu", "elu", "mish", "logsigmoid",
         "reciprocal", "softplus", "hardtanh", "square", "log", "logical_not"}
# Elementwise functions of two tensors, broadcast (what is neither a residual add nor a channel scale).
BINARY = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "rsub", "masked_fill", "where", "eq", "ne", "lt",
          "le", "gt", "ge", "addcmul", "addcdiv", "lerp"}
# Reductions over some dimensions (what is not a global average pool): output of the op's shape.
REDUCTIONS = {"sum", "amax", "amin", "max", "min", "linalg_vector_norm", "norm", "var", "std", "mean", "prod",
              "logsumexp", "var_mean", "std_mean", "argmax", "argmin"}
ACTIVATIONS = {"relu": Act.RELU, "relu6": Act.RELU6, "hardswish": Act.HARDSWISH, "hardsigmoid": Act.HARDSIGMOID,
               "silu": Act.SILU, "sigmoid": Act.SIGMOID}


class RecordError(UserError):
    """A module that cannot be recorded: its forward raised, or fake tensors cannot run it."""


@dataclass(frozen=True)
class Op:
    """One ATen call as the recorder saw it (shapes with the batch dimension)."""

    module: str                 # the innermost module's qualified name ("" for the root)
    call: int                   # which call of a module it ran in (one number per forward call)
    name: str                   # the operation's name without its overload: conv2d, add, relu_
    args: tuple                 # tensor shapes, with the non-tensor arguments as they were given
    out: tuple | None           # the output's shape
    params: tuple[int, ...]     # ids of the module parameters among its arguments
    api: str = ""               # the torch function the code called (the outermost one)
    operator: bool = False      # through a Python operator (x + y), not by name
    size_products: int = 0      # products of sizes the code fed to it (or to free operations just before)
    folded: bool = True         # a linear's bias goes into its matrix product (a 2-D or contiguous input)


@dataclass
class Call:
    """One forward call of a module, as the module hooks of the peer tools see it."""

    module: str
    type: str
    leaf: bool
    first: bool                 # the module's first call
    input: tuple = ()
    output: tuple = ()
    params: tuple = ()          # ((name, numel), ...) of its own parameters
    attrs: tuple = ()
    outer: tuple = ()           # the classes of the calls around it, outermost first


# Module attributes the hook-based counters read (thop's affine, ptflops' num_heads, ...).
ATTRS = ("affine", "elementwise_affine", "num_heads", "head_dim", "batch_first", "in_features", "dim", "mode")
# Tensor methods a Python operator also reaches (x + y runs Tensor.add): a tool that patches the
# method by name does not see the operator, so the recorder tells them apart.
OPERATOR_METHODS = {"add", "sub", "mul", "div", "matmul", "truediv", "pow", "__add__", "__mul__", "__matmul__",
                    "__sub__", "__truediv__", "__radd__", "__rmul__", "__iadd__", "__imul__"}
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep  # not torchvision beside it
# torch functions written in Python that call others by name: what a tool that replaces those
# others sees of the operations inside (multi-head attention's projections go through F.linear)
INNER = {"torch.nn.functional.multi_head_attention_forward": {
    "addmm": "torch.nn.functional.linear", "mm": "torch.nn.functional.linear", "linear": "torch.nn.functional.linear",
    "baddbmm": "torch.baddbmm", "bmm": "torch.bmm", "_softmax": "torch.nn.functional.softmax",
    "softmax": "torch.nn.functional.softmax",
    "_scaled_dot_product_flash_attention_for_cpu": "torch.nn.functional.scaled_dot_product_attention",
    "scaled_dot_product_attention": "torch.nn.functional.scaled_dot_product_attention"}}
_OPERATOR_OPCODES = {"BINARY_OP", "BINARY_ADD", "BINARY_MULTIPLY", "BINARY_MATRIX_MULTIPLY", "BINARY_SUBTRACT",
                     "BINARY_TRUE_DIVIDE", "INPLACE_ADD", "INPLACE_MULTIPLY"}


def _by_operator() -> bool:
    """Whether the code outside torch that led here was running a Python operator."""
    f = sys._getframe(2)
    while f is not None and f.f_code.co_filename.startswith(_TORCH_DIR):
        f = f.f_back
    if f is None or f.f_lasti < 0:
        return False
    return dis.opname[f.f_code.co_code[f.f_lasti]] in _OPERATOR_OPCODES


class _Size(int):
    """A tensor's size as the model's Python code read it (``x.shape``, ``x.size(1)``, ``x.numel()``),
    remembering the products of sizes it came from. A torch.jit trace records sizes as tensors and
    the code's arithmetic on them as operations (``n_h * n_w`` becomes an ``aten::mul`` that
    torchprofile charges 1); the recorder counts a product when it reaches an operation's arguments,
    not when it only steered Python (a range, a comparison), which the trace drops as dead code."""

    products: frozenset = frozenset()

    def _with(self, other, value, product: bool):
        """``value`` (an int or a float) with the products of both operands, and its own if it is one."""
        made = self.products | getattr(other, "products", frozenset())
        if product and _SIZES:
            made = made | {_SIZES[-1].product()}
        out = (_Size if isinstance(value, int) else _SizeFloat)(value)
        out.products = made
        return out

    def _arith(fn, product: bool, reflected: bool = False):
        def method(self, other):
            if type(other) is bool or not isinstance(other, (int, float)):
                return NotImplemented
            a, b = (_number(other), _number(self)) if reflected else (_number(self), _number(other))
            return _Size._with(self, other, fn(a, b), product)
        return method

    __mul__ = __rmul__ = _arith(operator.mul, True)  # a product: what a trace records and torchprofile counts
    __floordiv__, __rfloordiv__ = _arith(operator.floordiv, False), _arith(operator.floordiv, False, True)
    __add__ = __radd__ = _arith(operator.add, False)
    __sub__, __rsub__ = _arith(operator.sub, False), _arith(operator.sub, False, True)
    __truediv__, __rtruediv__ = _arith(operator.truediv, False), _arith(operator.truediv, False, True)
    del _arith


def _number(v):
    """A plain int or float of the same value (a size's arithmetic is done on plain numbers)."""
    return int(v) if isinstance(v, int) else float(v)


class _SizeFloat(float):
    """A size divided (``x / stride``) or scaled by a float: a float that keeps the products, as a trace
    keeps ``aten::div`` and ``aten::mul`` of a size (MViTv2's ``(k_h - 1) * ratio``, with ``ratio = k_h /
    q_h``). Its arithmetic is the size's own. ``math.ceil``, ``int`` and ``round`` give plain ints: a
    trace turns a size into a Python number there, and what follows is no operation (MobileViT's
    ``math.ceil(H / p) * p``)."""

    products: frozenset = frozenset()

    __mul__, __rmul__ = _Size.__mul__, _Size.__rmul__
    __add__, __radd__ = _Size.__add__, _Size.__radd__
    __sub__, __rsub__ = _Size.__sub__, _Size.__rsub__
    __truediv__, __rtruediv__ = _Size.__truediv__, _Size.__rtruediv__


_SIZES: list = []  # the recording under way, whose sizes count their products
# the torch functions that give a tensor's sizes, as a trace records them
SIZE_FUNCTIONS = {"torch.Tensor.shape.__get__", "torch.Tensor.size", "torch.Tensor.numel"}


def _sizes(value):
    if isinstance(value, torch.Size):
        return torch.Size([_Size(v) for v in value])
    return _Size(value) if type(value) is int else value


def _products(args, into: set) -> None:
    for a in args:
        if isinstance(a, (_Size, _SizeFloat)):
            into |= a.products
        elif isinstance(a, (list, tuple)):
            _products(a, into)
        elif isinstance(a, slice):
            _products((a.start, a.stop, a.step), into)
        elif isinstance(a, dict):
            _products(a.values(), into)


class _Api(TorchFunctionMode):
    """Which torch function the model's Python code called, for every operation it runs: torch's
    own function mode sees the outermost call (what the code wrote), not those inside it. It hands
    the code sizes that count their products (:class:`_Size`) and counts those that reach an operation."""

    def __init__(self):
        super().__init__()
        self.current = ("", False)
        self.names: dict = {}
        self.made = 0            # products of sizes made so far
        self.open: set = set()   # those not yet fed to an operation
        self.fed = 0             # products fed to operations since the last operation recorded took them

    def product(self) -> int:
        self.made += 1
        self.open.add(self.made)
        return self.made

    def take(self) -> int:
        fed, self.fed = self.fed, 0
        return fed

    def __torch_function__(self, func, types, args=(), kwargs=None):
        outer = self.current
        name = self.names.get(func)
        if name is None:  # torch's resolve_name sets up a warnings filter on each call: once per function
            name = self.names[func] = resolve_name(func) or getattr(func, "__name__", "")
        if self.open:
            reached: set = set()
            _products((args, kwargs or {}), reached)
            reached &= self.open
            self.fed += len(reached)
            self.open -= reached
        self.current = (name, name.rsplit(".", 1)[-1] in OPERATOR_METHODS and _by_operator())
        try:
            out = func(*args, **(kwargs or {}))
        finally:
            self.current = outer
        return _sizes(out) if name in SIZE_FUNCTIONS else out

    def __enter__(self):
        _SIZES.append(self)
        return super().__enter__()

    def __exit__(self, *exc):
        _SIZES.pop()
        return super().__exit__(*exc)


@dataclass
class Recording:
    """A module's run: its rows (the analyzer's) and what had no formula."""

    model: str
    input_shape: tuple[int, ...]
    rows: list[LayerRow]
    uncounted: dict[str, dict] = field(default_factory=dict)  # op -> {"calls", "modules", "params"}
    inputs: tuple = ()  # every input (InputSpec) where there is more than one, or one not float32
    alive: tuple | None = None  # activation values alive while each row ran (a module's; not an ONNX file's)

    def analysis(self) -> Analysis:
        batch = self.input_shape[0]
        rows = [r._replace(macs=r.macs * batch) for r in self.rows]
        total, by_kind = totals(rows)
        config = {"input": list(self.input_shape), "batch": batch}
        if self.inputs:
            config["inputs"] = [str(i) for i in self.inputs]
        if len(self.input_shape) == 4:
            config["resolution"] = list(self.input_shape[2:])
        return Analysis(self.model, config, tuple(self.input_shape[1:]), tuple(rows), total, by_kind, None,
                        uncounted=self.uncounted, alive=self.alive)


class _Recorder(TorchDispatchMode):
    def __init__(self, stack: list[str], param_ids: set[int], api: _Api):
        super().__init__()
        self.stack, self.param_ids, self.ops, self.api = stack, param_ids, [], api
        self.base: dict[int, tuple] = {}   # id of a tensor -> the buffer it views: (operation, output)
        self.size: dict[tuple, int] = {}   # buffer -> its values
        self.born: dict[tuple, int] = {}   # buffer -> the operation (index among all) that wrote it
        self.last: dict[tuple, int] = {}   # buffer -> the last operation that read it
        self.counted_at: list[int] = []    # for each Op kept, its index among all operations
        self.n = 0
        self.keep: list = []               # every output lives as long as the run: ids stay unique
        self.carried: dict[int, tuple] = {}  # id of a free operation's output -> the parameters it holds

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        out = None
        if name in SAME_SHAPE and args and isinstance(args[0], torch.Tensor):
            x = args[0]  # its output is its input's shape: no need to run it, even on fakes (a layer or
            out = torch.empty(x.shape, dtype=x.dtype, device=x.device) if name in ("layer_norm", "instance_norm") \
                else torch.empty_like(x)  # instance norm's is contiguous; the others keep the input's format)
        elif name in CONVOLUTIONS and not kwargs:
            if name in ("conv1d", "conv2d", "conv3d") and len(args) > 4 and isinstance(args[4], str):
                name = "_convolution_mode"  # padding "same" or "valid": what a trace records it as
            out = _convolved(name, args)  # the output's shape from flopcalc's own formula
        elif name == "linear" and len(args) >= 2 and isinstance(args[0], torch.Tensor) and args[0].dim() >= 1:
            x, w = args[0], args[1]
            out = torch.empty((*x.shape[:-1], w.shape[0]), dtype=x.dtype, device=x.device)
        if out is None:
            out = func(*args, **(kwargs or {}))
            if name == "view" and isinstance(out, torch.Tensor) and 1 in out.shape:
                out = _eager_view(args[0], out)
        tensors = [a for a in _flat(args) if isinstance(a, torch.Tensor)]
        # parameters this operation reads: its own arguments, and those a free operation (expand,
        # cat, reshape) passed on in its output, so a class token or a reshaped weight is counted
        used = tuple(dict.fromkeys([id(a) for a in tensors if id(a) in self.param_ids]
                                   + [p for a in tensors for p in self.carried.get(id(a), ())]))
        first = out[0] if isinstance(out, (tuple, list)) and out else out
        self._lifetimes(name, tensors, out)
        if name in FREE:
            if used and isinstance(first, torch.Tensor):
                self.carried[id(first)] = used  # its id stays its own: self.keep holds every output
        else:
            shapes = tuple(tuple(a.shape) if isinstance(a, torch.Tensor) else _plain(a) for a in args)
            module, call = self.stack[-1]
            self.ops.append(Op(module, call, name, shapes,
                               tuple(first.shape) if isinstance(first, torch.Tensor) else None, used,
                               *self.api.current, self.api.take(), _folded(name, args)))
            self.counted_at.append(self.n - 1)
        return out

    def _lifetimes(self, name: str, tensors: list, out) -> None:
        """Which buffers this operation reads and writes: a free operation's output views its input's
        buffer (a reshape, a slice); any other writes a new one."""
        i = self.n
        self.n += 1
        for t in tensors:
            b = self.base.get(id(t))
            if b is not None:
                self.last[b] = i
        outs = [o for o in _flat(out if isinstance(out, (tuple, list)) else (out,)) if isinstance(o, torch.Tensor)]
        self.keep.extend(outs)
        source = next((self.base[id(t)] for t in tensors if id(t) in self.base), None)
        for j, o in enumerate(outs):
            if name in FREE and source is not None and name not in ("cat", "stack", "clone", "_to_copy", "repeat"):
                self.base[id(o)] = source
            else:  # a new buffer, an in-place one too (counted as written anew, as the walk counts it)
                self.base[id(o)] = (i, j)
                self.size[(i, j)] = o.numel()
                self.born[(i, j)] = self.last[(i, j)] = i

    def alive_values(self) -> list[int]:
        """Activation values alive during each kept operation (the model's inputs included): every
        buffer adds its size from the operation that writes it and takes it off after its last reader."""
        delta = [0] * (self.n + 2)  # index i + 1 for operation i; the inputs are born at -1
        for b, size in self.size.items():
            delta[self.born[b] + 1] += size
            delta[self.last[b] + 2] -= size
        alive, running = [], 0
        for i in range(self.n + 1):
            running += delta[i]
            alive.append(running)  # alive[i]: during operation i - 1
        return [alive[i + 1] for i in self.counted_at]


def _eager_view(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """A view of a fake tensor with the strides torch gives it without fakes: they differ in the strides
    of dimensions of size 1, which address nothing but steer what a convolution outputs (channels last
    or not, :func:`_conv_format`) and so whether a later linear folds its bias in."""
    from torch._subclasses.fake_tensor import FakeTensor, unset_fake_temporarily
    if not isinstance(x, FakeTensor):
        return out
    with unset_fake_temporarily():
        stride = torch.empty_strided(x.shape, x.stride(), device="meta").view(out.shape).stride()
    return out if stride == out.stride() else x.as_strided(out.shape, stride, x.storage_offset())


def _folded(name: str, args) -> bool:
    """Whether a bias goes into the matrix product with the input: torch's ``linear`` folds it in for a
    2-D or contiguous input. A recurrent layer's first products are one ``linear`` of the whole
    sequence, steps first (a batch-first input transposed: contiguous only at a batch of 1)."""
    x = args[0] if args and isinstance(args[0], torch.Tensor) else None
    if name == "linear" and x is not None:
        return x.dim() <= 2 or x.is_contiguous()
    if name in RECURRENT and x is not None and x.dim() == 3:
        return (x.transpose(0, 1) if args[-1] is True else x).is_contiguous()
    return True


def _flat(args):
    for a in args:
        if isinstance(a, (list, tuple)):
            yield from _flat(a)
        else:
            yield a


def _plain(a):
    if isinstance(a, torch.Tensor):
        return tuple(map(int, a.shape))
    if isinstance(a, _Size):
        return int(a)
    if isinstance(a, (list, tuple)):
        return tuple(_plain(x) for x in a)
    return a if isinstance(a, (int, float, bool, str)) or a is None else repr(a)


def _first_tensor(value):
    for v in _flat(value if isinstance(value, (list, tuple)) else (value,)):
        if isinstance(v, torch.Tensor):
            return tuple(map(int, v.shape))
    return ()


def _attrs(mod: nn.Module) -> tuple:
    out = []
    for name in ATTRS:
        v = getattr(mod, name, None)
        if isinstance(v, (bool, int, float, str)) or (isinstance(v, tuple) and all(isinstance(x, int) for x in v)):
            out.append((name, v))
    for name in ("bias", "in_proj_bias"):  # present or None: the counters ask which
        if hasattr(mod, name):
            out.append((name, getattr(mod, name) is not None))
    return tuple(out)


def record_ops(module: nn.Module, inputs) -> tuple[list[Op], dict[int, Call], list[int]]:
    """Run ``module`` once on fake inputs (:func:`flopcalc.sources.input_specs`: a shape, batch first,
    or several with their dtypes): every operation it ran, each module call (call number ->
    :class:`Call`; 0 is the model's own forward), and the activation values alive as each operation ran."""
    from ..sources import input_specs
    specs = input_specs(inputs)
    input_shape = specs[0].shape
    from torch._subclasses.fake_tensor import FakeTensorMode
    names = {id(m): n for n, m in module.named_modules()}
    param_ids = {id(p) for p in module.parameters()}
    stack = [("", 0)]
    counter = [0]
    calls: dict[int, Call] = {}
    seen: set[int] = set()

    def enter(mod, inputs):
        counter[0] += 1
        name = names.get(id(mod), stack[-1][0])
        parent = calls.get(stack[-1][1]) if len(stack) > 1 else None
        outer = parent.outer + (parent.type,) if parent is not None else ()
        stack.append((name, counter[0]))
        cls = type(mod)
        calls[counter[0]] = Call(name, f"{cls.__module__}.{cls.__qualname__}", not any(True for _ in mod.children()),
                                 id(mod) not in seen, _first_tensor(inputs),
                                 params=tuple((n, p.numel()) for n, p in mod.named_parameters(recurse=False)),
                                 attrs=_attrs(mod), outer=outer)
        seen.add(id(mod))

    def leave(mod, _inputs, output):
        _, call = stack.pop()
        calls[call].output = _first_tensor(output)

    hooks = [nn.modules.module.register_module_forward_pre_hook(enter),
             nn.modules.module.register_module_forward_hook(leave)]
    api = _Api()
    recorder = _Recorder(stack, param_ids, api)
    was_training = module.training
    module.eval()
    try:
        device = next(iter(module.parameters()), next(iter(module.buffers()), torch.empty(0))).device
        # a module built on the meta device runs on meta inputs as it is (meta tensors have shapes and no
        # values: fake enough, and faster than fake tensors' bookkeeping); a real one on fake tensors
        with FakeTensorMode(allow_non_fake_inputs=True) if device.type != "meta" else contextlib.nullcontext():
            # a module built on the meta device gets meta inputs
            xs = [torch.zeros(i.shape, dtype=getattr(torch, i.dtype), device=device) for i in specs]
            with recorder, torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the model's own warnings are about running it, which this is not
                calls[0] = Call("", f"{type(module).__module__}.{type(module).__qualname__}",
                                not any(True for _ in module.children()), True, tuple(input_shape),
                                params=tuple((n, p.numel()) for n, p in module.named_parameters(recurse=False)),
                                attrs=_attrs(module))
                for j, x_ in enumerate(xs):
                    recorder.base[id(x_)] = (-1, j)
                    recorder.size[(-1, j)] = x_.numel()
                    recorder.born[(-1, j)] = recorder.last[(-1, j)] = -1
                recorder.keep.extend(xs)
                with api:
                    module(*xs)
                left = api.take()  # products fed to free operations after the last one recorded
                if left and recorder.ops:
                    last = recorder.ops[-1]
                    recorder.ops[-1] = replace(last, size_products=last.size_products + left)
    except Exception as e:  # noqa: BLE001  (any error of the user's forward, said in one line)
        where = stack[-1][0] or "the model"
        raise RecordError(f"running {where} on a fake input of shape {', '.join(map(str, specs))} "
                          f"failed: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}") \
            from None
    finally:
        for h in hooks:
            h.remove()
        module.train(was_training)
    return recorder.ops, calls, recorder.alive_values()


def per_image_shape(shape, batch: int, whole: list | None = None) -> tuple:
    """A shape per image: the batch dimension off. A tensor that does not start with the batch (sequence
    first: multi-head attention's (L, N, E)) keeps its shape, and ``whole`` is told so: the cost of an
    operation on it is the whole batch's, to be divided by the batch."""
    if shape and shape[0] == batch:
        return tuple(shape[1:])
    if whole is not None:
        whole.append(True)
    return tuple(shape)


def _spec(op: Op, batch: int = 1, whole: list | None = None):
    """The layer spec of one operation and the shapes its formula reads: (spec, x, block_input),
    or None for an operation without a formula. Shapes are per image: the batch dimension comes off.
    A sequence-first tensor (multi-head attention's (L, N, E)) does not start with the batch; it keeps
    its shape, and ``whole`` is told so (its cost is the batch's, divided by it afterwards)."""
    name = op.name.rstrip("_")
    a = op.args

    def per(shape):
        return per_image_shape(shape, batch, whole)

    if name in CONVOLUTIONS:
        return _conv(name, a)
    if name == "linear":
        x, w = a[0], a[1]
        return Linear(w[1], w[0], len(a) > 2 and a[2] is not None), per(x), None
    if name in ("addmm", "mm") and op.params:  # a weight matrix: a fully connected layer
        x, w = (a[1], a[2]) if name == "addmm" else (a[0], a[1])
        return Linear(w[0], w[1], name == "addmm"), per(x), None
    if name in ("matmul", "bmm", "mm", "baddbmm"):
        x, w = (a[1], a[2]) if name == "baddbmm" else (a[0], a[1])
        if len(x) < 3 or len(w) < 2:
            return None
        return MatMul(tuple(w[1:]) if len(w) == len(x) else tuple(w)), per(x), None
    if name in ATTENTION:
        q, k, v = a[0], a[1], a[2]
        mask = a[3] if len(a) > 3 and isinstance(a[3], tuple) else None
        # the cases torch 2.13 and 2.14 send to the math path on the CPU (measured with FlopCounterMode): keys
        # or values of another batch, and (before 2.14) of fewer heads than the queries, broadcast to them
        math_path = ((mask is not None and len(mask) not in (2, 4)) or len(q) > 4 or v[-1] != k[-1]
                     or q[0] != k[0] or q[0] != v[0]
                     or ((q[:-2] != k[:-2] or q[:-2] != v[:-2]) and broadcast_heads_take_math_path()))
        return Attention(tuple(k[1:]), tuple(v[1:]), math_path, mask is not None and bool(op.params)), q[1:], None
    if name in RECURRENT and len(a) == 9 and isinstance(a[3], bool) and len(a[0]) == 3:
        return _recurrent(name, a)
    if name in ("layer_norm", "native_layer_norm"):
        return Normalization("layer", math.prod(a[1]), len(a) > 2 and a[2] is not None), per(a[0]), None
    if name in ("group_norm", "native_group_norm"):
        return Normalization("group", a[0][1], len(a) > 2 and a[2] is not None), a[0][1:], None
    if name == "instance_norm":
        return Normalization("instance", a[0][1], len(a) > 1 and a[1] is not None), a[0][1:], None
    if name in ("max_pool2d", "avg_pool2d", "max_pool2d_with_indices"):
        k = _pair(a[1])
        stride = _pair(a[2]) if len(a) > 2 and a[2] else k
        padding = _pair(a[3]) if len(a) > 3 else (0, 0)
        if k[0] != k[1] or stride[0] != stride[1] or padding[0] != padding[1]:
            return None  # rectangular windows: no formula here yet
        ceil = bool(a[5] if name.startswith("max") else a[4]) if len(a) > (5 if name.startswith("max") else 4) \
            else False
        return Pool2d("max" if name.startswith("max") else "avg", k[0], stride[0], padding[0], ceil), a[0][1:], None
    if name in ("upsample_nearest2d", "upsample_bilinear2d", "upsample_bicubic2d", "_upsample_nearest_exact2d",
                "upsample_nearest1d", "upsample_linear1d", "upsample_nearest3d", "upsample_trilinear3d"):
        return Resize(name.replace("upsample_", "").replace("_upsample_", "").rstrip("123d") or name,
                      tuple(op.out[2:])), a[0][1:], None
    if name == "einsum" and len(a) >= 2 and len(a[1]) == 2:
        return _einsum(a[0], a[1])
    if name == "embedding":
        w, idx = a[0], a[1]
        return Embedding(w[0], w[1]), idx[1:], None
    if name in ("batch_norm", "native_batch_norm", "_native_batch_norm_legit_no_training",
                "_native_batch_norm_legit"):
        x, batch_stats = a[0], bool(a[5]) if len(a) > 5 and name == "batch_norm" else False
        if len(x) == 4 and not batch_stats and x[0] == batch:
            return BatchNorm2d(x[1], affine=a[1] is not None), x[1:], None
        # tokens flattened into the first dimension (LeViT's B * N rows of C): per image, C channels over
        # the rest; a weight standardized in one (1, C, K) batch is the run's, taken as each image's
        rest = (x[0] // batch,) if x[0] != batch and x[0] % batch == 0 and not batch_stats else ()
        return BatchNormNd(x[1], affine=a[1] is not None, batch_stats=batch_stats), (x[1], *rest, *x[2:]), None
    if name in ACTIVATIONS:
        return Activation(ACTIVATIONS[name], op.name.endswith("_")), per(a[0]), None
    if name == "hardtanh" and tuple(a[1:3]) == (0.0, 6.0):
        return Activation(Act.RELU6, op.name.endswith("_")), per(a[0]), None
    if name in ("adaptive_avg_pool2d", "_adaptive_avg_pool2d") and _pair(a[1]) == (1, 1):
        return GlobalAvgPool(keepdim=True), a[0][1:], None
    if name in ADAPTIVE:
        return AdaptivePool("max" if "max" in name else "avg", tuple(op.out[2:])), a[0][1:], None
    if name == "mean" and tuple(a[1]) in ((-1, -2), (2, 3), (-2, -1), (3, 2)):
        keep = len(a) > 2 and bool(a[2])
        return GlobalAvgPool(keepdim=keep, reduction="mean"), a[0][1:], None
    if name == "add" and len(a) >= 2 and isinstance(a[1], tuple) and a[0] == a[1]:
        return ResidualAdd(), per(a[0]), per(a[1])
    if name == "mul" and len(a) >= 2 and isinstance(a[1], tuple) and isinstance(a[0], tuple):
        gate, x = sorted((a[0], a[1]), key=lambda s: math.prod(s))
        if len(x) == 4 and gate == (x[0], x[1], 1, 1):
            return ChannelScale(), gate[1:], x[1:]
    if name in ("dropout", "native_dropout", "feature_dropout"):
        return Dropout(float(a[1]) if len(a) > 1 else 0.5), per(a[0]), None
    if name in REDUCTIONS and op.out is not None and len(a) > 1:
        return Reduction(name, per(op.out) if op.out else ()), per(a[0]), None
    tensors = [x for x in a if isinstance(x, tuple) and all(isinstance(d, int) for d in x)]
    if name in UNARY and tensors:
        return Elementwise(name.lstrip("_")), per(tensors[0]), None
    if name in BINARY and tensors:
        if len(tensors) == 1:  # a tensor and a number: the attention scale, x * 0.5
            return Elementwise(name), per(tensors[0]), None
        if len(tensors) > 2:  # addcmul(x, a, b): each broadcast to the largest
            tensors = sorted(tensors, key=math.prod, reverse=True)[:2]
        x, other = tensors[0], tensors[1]
        return Elementwise(name, tuple(other[1:]) if len(other) == len(x) else tuple(other)), per(x), None
    return None


def _recurrent(name: str, a: tuple):
    """``aten::lstm`` (or gru, rnn_tanh, rnn_relu) on a padded sequence: (input, hx, params, has_biases,
    num_layers, dropout, train, bidirectional, batch_first); per sequence (steps, features). None for
    an LSTM with projections (a fifth weight per layer)."""
    x, params, bias, layers, bidirectional, batch_first = a[0], a[2], a[3], a[4], a[7], a[8]
    directions = 2 if bidirectional else 1
    if len(params) != layers * directions * (4 if bias else 2):
        return None
    gates = {"lstm": 4, "gru": 3}.get(name, 1)
    spec = Recurrent(name, x[2], params[0][0] // gates, layers, bidirectional, bias)
    return spec, ((x[1] if batch_first else x[0]), x[2]), None


def _lead(op: Op, batch: int) -> int:
    """How many of what an operation's formula reads one of run in the batch: maps for a convolution
    (MViT's per-head pooling runs B * heads), windows for attention, sequences for a recurrent layer
    (Sequencer's run B * H rows of W steps)."""
    a = op.args
    if (op.name in CONVOLUTIONS or op.name in ATTENTION) and a and a[0]:
        return a[0][0]
    if op.name in RECURRENT and len(a) == 9 and a[0]:
        return a[0][0 if a[8] is True else 1]
    return batch


RECURRENT = {"lstm", "gru", "rnn_tanh", "rnn_relu"}
ATTENTION = {"scaled_dot_product_attention", "_scaled_dot_product_flash_attention_for_cpu"}
ADAPTIVE = {"adaptive_avg_pool1d", "adaptive_avg_pool2d", "_adaptive_avg_pool2d", "adaptive_avg_pool3d",
            "_adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d"}
CONVOLUTIONS = {"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
                "convolution", "_convolution", "_convolution_mode"}


def _conv(name: str, a: tuple):
    """A convolution's spec: the family's Conv2d when square and 2-D (so a MobileNet's rows are the
    analyzer's), else a ConvNd; None for a padding flopcalc cannot say exactly ("same" with an even
    kernel)."""
    x, w = a[0], a[1]
    space = len(w) - 2

    def arg(i, default):
        v = a[i] if len(a) > i and a[i] is not None else default
        return tuple(v) * (space if len(tuple(v)) == 1 else 1) if isinstance(v, (list, tuple)) else \
            (v,) * space if not isinstance(v, str) else v

    bias = len(a) > 2 and a[2] is not None
    if name in ("convolution", "_convolution"):  # (input, weight, bias, stride, padding, dilation, transposed,
        stride, padding, dilation = arg(3, 1), arg(4, 0), arg(5, 1)  # output_padding, groups)
        transposed, output_padding, groups = bool(a[6]), arg(7, 0), a[8]
    elif name.startswith("conv_transpose"):  # (input, weight, bias, stride, padding, output_padding, groups, dilation)
        stride, padding, output_padding = arg(3, 1), arg(4, 0), arg(5, 0)
        groups, dilation, transposed = (a[6] if len(a) > 6 else 1), arg(7, 1), True
    else:  # convNd(input, weight, bias, stride, padding, dilation, groups)
        stride, padding, dilation = arg(3, 1), arg(4, 0), arg(5, 1)
        groups, transposed, output_padding = (a[6] if len(a) > 6 else 1), False, (0,) * space
    kernel = tuple(w[2:])
    if isinstance(padding, str):  # "valid", or "same" at stride 1
        span = [dl * (k - 1) for dl, k in zip(dilation, kernel)]
        if padding == "valid":
            padding = (0,) * space
        elif all(v % 2 == 0 for v in span):
            padding = tuple(v // 2 for v in span)
        else:
            return None
    in_c = x[1]
    out_c = w[1] * groups if transposed else w[0]
    if (space == 2 and not transposed and kernel[0] == kernel[1] and len(set(stride)) == 1
            and len(set(padding)) == 1 and len(set(dilation)) == 1):
        return Conv2d(in_c, out_c, kernel[0], stride[0], padding[0], dilation[0], groups, bias), x[1:], None
    return ConvNd(in_c, out_c, kernel, tuple(stride), tuple(padding), tuple(dilation), groups, bias, transposed,
                  tuple(output_padding)), x[1:], None


def _convolved(name: str, args: tuple):
    """An empty output of a convolution's shape, by the formula the rows use (fake tensors' own shape
    computation is the slowest part of a recording); None where that formula does not apply."""
    x, w = args[0], args[1]
    if not (isinstance(x, torch.Tensor) and isinstance(w, torch.Tensor)) or x.dim() != w.dim():
        return None
    s = _conv(name, tuple(_plain(a) for a in args))
    if s is None:
        return None
    shape = layer_cost(s[0], s[1]).output_shape
    return torch.empty((x.shape[0], *shape), dtype=x.dtype, device=x.device, memory_format=_conv_format(x, w))


def _conv_format(x: torch.Tensor, w: torch.Tensor):
    """The memory format torch gives a convolution's output on the CPU: channels last when the input's or
    the weight's strides suggest it, by torch's own rule (which reads the strides of dimensions of size
    1 too: a (1, N, C) sequence transposed and viewed as a map is not channels last, PVTv2's); matters
    to what follows (a linear folds its bias only into a contiguous input). Checked against eager
    convolutions over six layouts of input, at batches 1 and 2, on torch 2.13 and 2.14."""
    from torch._prims_common import suggest_memory_format
    if x.dim() not in (4, 5):
        return torch.contiguous_format
    last = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
    return last if last in (suggest_memory_format(x), suggest_memory_format(w)) else torch.contiguous_format


def _einsum(equation: str, operands: tuple):
    """A two-operand einsum, per input: the batch (the output's first index, first in every
    operand too) taken as 1."""
    terms, _, output = equation.replace(" ", "").partition("->")
    terms = terms.split(",")
    batched = bool(output) and all(t[:1] == output[:1] for t in terms)
    shapes = tuple((1, *s[1:]) if batched else tuple(s) for s in operands)
    return Einsum(equation.replace(" ", ""), shapes, batched), tuple(operands[0][1:]), None


def _pair(v) -> tuple:
    return tuple(v) * (2 if len(tuple(v)) == 1 else 1) if isinstance(v, (list, tuple)) else (v, v)


def record(module: nn.Module, input_shape=(1, 3, 224, 224), name: str | None = None) -> Recording:
    """``module`` run once on a fake input of ``input_shape`` (batch first; or several inputs, with their
    dtypes: :func:`flopcalc.sources.input_specs`), as the analyzer's rows."""
    from .runtime import collector_paused
    with collector_paused():
        return _record(module, input_shape, name)


def _record(module: nn.Module, input_shape, name: str | None) -> Recording:
    from ..sources import input_specs
    given = input_specs(input_shape)
    input_shape = given[0].shape
    ops, calls, alive_at = record_ops(module, given)
    alive: list[int] = []
    sizes = {id(p): p.numel() for p in module.parameters()}
    leaves = {n for n, m in module.named_modules() if not list(m.children())}
    batch = input_shape[0]
    wholes = [[] for _ in ops]
    specs = [_spec(op, batch, w) for op, w in zip(ops, wholes)]
    counted_in_call: dict[int, int] = {}
    uncounted: dict[str, dict] = {}
    for op, s in zip(ops, specs):
        if s is None:
            entry = uncounted.setdefault(op.name.rstrip("_"), {"calls": 0, "modules": [], "params": 0})
            entry["calls"] += 1
            if op.module not in entry["modules"]:
                entry["modules"].append(op.module)
        else:
            counted_in_call[op.call] = counted_in_call.get(op.call, 0) + 1
    rows: list[LayerRow] = []
    used: dict[str, int] = {}
    charged: set[int] = set()
    first_rows: set[int] = set()
    def origin_of(op: Op, api: str, **more) -> Origin:
        """How the operation was reached: its module call, the torch function called (the first row of
        a call is the one a per-call rule charges)."""
        c = calls[op.call]
        first = op.call not in first_rows
        first_rows.add(op.call)
        return Origin(c.module, c.type, c.leaf, op.call, first, c.first, api, op.operator, op.name, c.input,
                      c.output, c.params, c.attrs, batch=batch, outer=c.outer, **more)

    products = 0  # products of sizes fed to operations without a row: the next row's
    for op, s, whole, held in zip(ops, specs, wholes, alive_at):
        products += op.size_products
        if s is None:  # its parameters are named with it, never silently dropped: listed, and a row of
            params = sum(sizes[i] for i in dict.fromkeys(op.params) if i not in charged)  # their own
            uncounted[op.name.rstrip("_")]["params"] += params
            charged.update(op.params)
            if params:
                base = ".".join(p for p in (op.module, op.name.rstrip("_")) if p)
                n = used.get(base, 0)
                used[base] = n + 1
                shapes = [a for a in op.args if isinstance(a, tuple) and a and all(isinstance(d, int) for d in a)]
                origin = origin_of(op, op.api)
                rows.append(LayerRow(base if n == 0 else f"{base}.{n}", "uncounted", None,
                                     per_image_shape(shapes[0], batch) if shapes else (),
                                     per_image_shape(op.out, batch) if op.out else (), params, 0, origin))
                alive.append(held)
            continue
        spec, x, block_input = s
        if op.module in leaves and counted_in_call[op.call] == 1:
            base = op.module  # a leaf module running one operation: the module's own name
            out = calls[op.call].output
            if isinstance(spec, GlobalAvgPool) and out is not None and len(out) == 2:
                spec = GlobalAvgPool(False, spec.reduction)  # the module flattens what it pooled
        else:
            base = ".".join(p for p in (op.module, op.name.rstrip("_")) if p)
        n = used.get(base, 0)
        used[base] = n + 1
        cost = layer_cost(spec, x, block_input) if block_input is not None else layer_cost(spec, x)
        if whole:  # the shape held the batch: its cost is the batch's
            cost = cost._replace(macs=cost.macs // batch)
        lead = _lead(op, batch)
        if lead != batch:  # B * n maps, windows or sequences: its formula read one of them; n per image
            cost = cost._replace(macs=cost.macs * lead // batch)
        params = sum(sizes[i] for i in dict.fromkeys(op.params) if i not in charged)
        charged.update(op.params)
        origin = origin_of(op, INNER.get(op.api, {}).get(op.name.rstrip("_"), op.api), size_products=products,
                           whole=bool(whole), folded=op.folded,
                           per_run=getattr(spec, "batch_stats", False) and op.args[0][0] != batch)
        products = 0
        rows.append(LayerRow(base if n == 0 else f"{base}.{n}", cost.kind, spec, tuple(x), tuple(cost.output_shape),
                             params, cost.macs, origin))
        alive.append(held)
    if products and rows:  # fed to the last operations, which have no row
        rows[-1] = rows[-1]._replace(origin=rows[-1].origin._replace(
            size_products=rows[-1].origin.size_products + products))
    unused = _unused(module, charged)
    rows.extend(unused)
    alive.extend(0 for _ in unused)
    several = given if len(given) > 1 or given[0].dtype != "float32" else ()
    return Recording(name or type(module).__name__, tuple(input_shape), rows, uncounted, several, tuple(alive))


def _unused(module: nn.Module, charged: set[int]) -> list[LayerRow]:
    """A row for each part of the model whose parameters the forward never read (GoogLeNet's
    auxiliary classifiers in eval mode), so the parameter total is ``sum(p.numel())``: the largest
    modules none of whose parameters ran, then any parameter left over, with its module."""
    modules = dict(module.named_modules())
    idle = {n for n, m in modules.items() if any(True for _ in m.parameters())
            and all(id(p) not in charged for p in m.parameters())}
    rows = []
    for n, m in modules.items():
        parent = n.rpartition(".")[0] if n else None
        if n in idle and (parent is None or parent not in idle):
            params = tuple((k, p.numel()) for k, p in m.named_parameters())
        elif n not in idle and not any(n.startswith(i + ".") for i in idle if i):
            params = tuple((k, p.numel()) for k, p in m.named_parameters(recurse=False) if id(p) not in charged)
        else:
            continue
        if not params:
            continue
        cls = type(m)
        origin = Origin(n, f"{cls.__module__}.{cls.__qualname__}", not any(True for _ in m.children()), -1, False,
                        False, "", False, "", (), (), params, _attrs(m))
        rows.append(LayerRow(f"{n or 'model'} (not run)", "unused", None, (), (), sum(v for _, v in params), 0,
                             origin))
    return rows


def analyze_module(module: nn.Module, input_shape=(1, 3, 224, 224), *,
                   convention: str = DEFAULT_CONVENTION, name: str | None = None) -> Analysis:
    """``module`` recorded and counted as ``convention`` counts (flopcalc's own by default): the
    same :class:`~flopcalc.walk.Analysis` a zoo model gives, for every view and format."""
    from ..conventions import counted_as
    return counted_as(record(module, input_shape, name).analysis(), convention)

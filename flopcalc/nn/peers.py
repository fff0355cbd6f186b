"""The peer counters run live on flopcalc's own PyTorch models (``flopcalc reconcile --live``).

Each function builds a fresh model of the config (a counter may leave hooks or buffers
behind: thop adds ``total_ops`` buffers to every module it has no rule for), runs the tool
the way its README shows, in eval mode at batch 1, and returns ``(params, ops)`` as the tool
reports them (None where it reports none), as exact ints. Tools that are not installed are
skipped; :func:`available` says which are here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import warnings
from typing import Callable

import torch

from ..errors import install_hint
from ..zoo import MODELS, get_spec
from .builders import build_node
from ..scaling import as_pair

# tool -> the Python module that provides it ("flop_counter" is torch itself)
MODULES = {"fvcore": "fvcore", "flop_counter": "torch", "ptflops": "ptflops", "ptflops_aten": "ptflops",
           "thop": "thop", "torchinfo": "torchinfo", "torchprofile": "torchprofile", "calflops": "calflops",
           "onnx_tool": "onnx_tool", "keras": "keras"}
EXTRA = (f"{install_hint('peers')} (ptflops, thop, torchinfo, torchprofile, calflops, onnx-tool, keras; fvcore "
         "comes with flopcalc[torch])")

Measured = tuple  # (params | None, ops | None)


def available() -> dict[str, bool]:
    return {tool: importlib.util.find_spec(mod) is not None for tool, mod in MODULES.items()}


def _uncounted_model(model: str, alpha: float, classes: int, rounding: str) -> torch.nn.Module:
    # the weights' values do not change a count: skip build()'s initialization
    return build_node(get_spec(model, alpha, classes, rounding)).eval()


def _quiet():
    """Tools print progress and warn about modules they skip; none of it is the count."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    return stack


def _exact(value) -> int:
    """thop returns floats; they are integer-valued and far below 2**53, so int() is exact."""
    if isinstance(value, float):
        if not value.is_integer() or abs(value) >= 2**53:
            raise ValueError(f"not an exact integer count: {value!r}")
        return int(value)
    return int(value)


# Each tool counts a module it is handed, fed zeros of ``inputs`` (a shape, batch first, or the
# InputSpecs of a model with several inputs or another dtype), as its users run it: (params | None, ops | None).

def _tensors(inputs) -> list:
    from ..sources import input_specs
    return [torch.zeros(i.shape, dtype=getattr(torch, i.dtype)) for i in input_specs(inputs)]


def fvcore(net: torch.nn.Module, inputs) -> Measured:
    with _quiet():
        from fvcore.nn import FlopCountAnalysis, parameter_count
        flops = FlopCountAnalysis(net, tuple(_tensors(inputs)))
        flops.unsupported_ops_warnings(False)
        flops.uncalled_modules_warnings(False)
        return parameter_count(net)[""], _exact(flops.total())


def flop_counter(net: torch.nn.Module, inputs) -> Measured:
    from torch.utils.flop_counter import FlopCounterMode
    xs = _tensors(inputs)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(*xs)
    return None, counter.get_total_flops()


def _ptflops(backend: str) -> Callable:
    def run(net: torch.nn.Module, inputs) -> Measured:
        xs = _tensors(inputs)
        if len(xs) != 1:  # its input constructor gives one positional input (or keyword arguments)
            return None, None
        with _quiet():
            from ptflops import get_model_complexity_info
            macs, params = get_model_complexity_info(net, tuple(xs[0].shape[1:]), as_strings=False, backend=backend,
                                                     input_constructor=lambda _: torch.zeros_like(xs[0]),
                                                     print_per_layer_stat=False, ost=io.StringIO())
        return _exact(params), _exact(macs)
    return run


def thop(net: torch.nn.Module, inputs) -> Measured:
    with _quiet():
        import thop as _thop
        macs, params = _thop.profile(net, inputs=tuple(_tensors(inputs)), verbose=False)
    return _exact(params), _exact(macs)


def torchinfo(net: torch.nn.Module, inputs) -> Measured:
    with _quiet():
        from torchinfo import summary
        s = summary(net, input_data=_tensors(inputs), verbose=0)
    return s.total_params, s.total_mult_adds


def torchprofile(net: torch.nn.Module, inputs) -> Measured:
    with _quiet():
        from torchprofile import profile_macs
        return None, _exact(profile_macs(net, tuple(_tensors(inputs))))


def calflops(net: torch.nn.Module, inputs) -> Measured:
    """calflops' MACs (it prints FLOPs as two per MAC beside them) and parameters."""
    with _quiet():
        from calflops import calculate_flops
        _, macs, params = calculate_flops(model=net, args=_tensors(inputs), print_results=False,
                                          print_detailed=False, output_as_string=False)
    return _exact(params), _exact(macs)


def keras(model, alpha, h, w, classes, rounding) -> Measured:
    """Keras' own model (keras.applications, weights=None): its architecture, not flopcalc's
    built one; the keras convention predicts it through Keras' channel rounding. A spec
    file's network has no Keras counterpart: (None, None)."""
    info = MODELS.get(model) if isinstance(model, str) else None
    if info is None or info.keras is None:
        return None, None
    os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 on the torch already installed
    with _quiet():
        import keras as _keras
        app = getattr(_keras.applications, info.keras)
        net = app(input_shape=(h, w, 3), alpha=alpha, weights=None, classes=classes)
        n = net.count_params()
    return n, None


# the tools that count a PyTorch module handed to them (keras builds its own model)
MODULE_TOOLS: dict[str, Callable[..., Measured]] = {
    "fvcore": fvcore, "flop_counter": flop_counter, "ptflops": _ptflops("pytorch"),
    "ptflops_aten": _ptflops("aten"), "thop": thop, "torchinfo": torchinfo, "torchprofile": torchprofile,
    "calflops": calflops,
}


def onnx_tool(path, inputs) -> Measured:
    """onnx-tool's parameters and MACs of an ONNX file, its inputs given their shapes (one per graph
    input, in order), as its README shows: shape_infer, then profile."""
    import numpy as np
    from ..sources import input_specs
    with _quiet():
        from onnx_tool import Model
        g = Model(str(path)).graph
        g.shape_infer({name: np.zeros(i.shape, dtype=np.float32) for name, i in zip(g.input, input_specs(inputs))})
        g.profile()
    return _exact(float(g.params)), _exact(float(g.macs[0]))


# the tools that count an ONNX file handed to them
FILE_TOOLS: dict[str, Callable[..., Measured]] = {"onnx_tool": onnx_tool}


def measure(tool: str, model: str, alpha: float, resolution, classes: int, rounding: str,
            batch: int = 1) -> Measured:
    """What ``tool`` reports for the config, ``(params, ops)``; (None, None) for a tool that counts
    ONNX files (onnx-tool: its number is for the model's export, a graph of its own)."""
    h, w = as_pair(resolution)
    if tool == "keras":
        return keras(model, alpha, h, w, classes, rounding)
    if tool in FILE_TOOLS:
        return None, None
    return MODULE_TOOLS[tool](_uncounted_model(model, alpha, classes, rounding), (batch, 3, h, w))


def measure_module(tool: str, make: Callable[[], torch.nn.Module], inputs) -> Measured:
    """What ``tool`` reports for a module (built afresh by ``make``: the tools add hooks and
    buffers) fed ``inputs``; (None, None) for a tool that counts only its own models (keras) or
    cannot be given such inputs (ptflops, several)."""
    if tool not in MODULE_TOOLS:
        return None, None
    return MODULE_TOOLS[tool](make().eval(), inputs)


def measure_all(r, progress=None) -> dict:
    """Run every installed counter on a reconciliation's config: convention name -> ``(params, ops)``
    measured, or None where the tool is not installed; ``progress(done, total)`` after each tool."""
    here = available()
    base = r.base
    lines = [line for line in r.lines if line.convention.live and line.convention.live not in FILE_TOOLS]
    # a tool that reads ONNX files cannot count the model itself (its number is for the export's graph)
    out = {line.convention.name: False for line in r.lines if line.convention.live in FILE_TOOLS}
    for i, line in enumerate(lines, 1):
        tool = line.convention.live
        out[line.convention.name] = None if not here[tool] else measure(
            tool, base.model, base.config["alpha"], base.config["resolution"], line.num_classes,
            line.convention.rounding)
        if progress is not None:
            progress(i, len(lines))
    return out

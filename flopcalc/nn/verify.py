"""``flopcalc verify``: every analyzer figure against the real model, layer by layer.

For one config the model is built from the spec, put in eval mode and run at batch 1:

- **shape**: each layer module's output shape (forward hooks) against the analyzer's;
- **params**: fvcore's ``parameter_count`` per module against the analyzer's;
- **fvcore**: fvcore's ``FlopCountAnalysis`` per module against what the fvcore
  convention derives from the analyzer's record (conv and linear MAdds, batch norm 2 per
  output element, pooling 1 per input element), per layer and per block;
- **FlopCounterMode**: torch's own counter, an independent second witness, against
  2 x MAdds for conv and linear layers.

The ops fvcore cannot count are reported by name, not silenced.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Iterable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..walk import Analysis, count_layers
from ..conventions import FLOP_COUNTER, FVCORE
from ..costs import MULTIPLY_ADD_KINDS
from ..output import count_text
from ..spec import BatchNorm2d, SpecError, elements
from ..scaling import GRID_ALPHAS, GRID_RESOLUTIONS
from ..zoo import DEFAULT_CLASSES, DEFAULT_RESOLUTION
from ..memory import DTYPES
from .builders import build

BYTES_PER_VALUE = DTYPES["float32"]

# What fvcore 0.1.5 cannot count in these models, and what the op is.

def _fvcore():
    # fvcore.nn imports TorchScript machinery that warns on import; a strict warning filter
    # would turn that into an error, and it says nothing about the model.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fvcore.nn import FlopCountAnalysis, parameter_count
    return FlopCountAnalysis, parameter_count


def fvcore_flops(module: nn.Module, x: torch.Tensor):
    """fvcore's ``FlopCountAnalysis`` of ``module(x)``, its warnings off: ``verify`` reports
    the unsupported ops by name instead."""
    flops = _fvcore()[0](module, x)
    flops.unsupported_ops_warnings(False)
    flops.uncalled_modules_warnings(False)
    return flops


class TooLarge(SpecError):
    """The model would not fit in memory; refused before anything is allocated."""


@dataclass
class QuantityCheck:
    """One quantity of one module: what the analyzer says and what was measured."""

    quantity: str  # "modules", "shape", "params", "numel", "fvcore", "flop_counter", "executed", "values"
    expected: object
    measured: object
    tolerance: float | None = None  # None: exact equality (every count); else |difference| bound

    @property
    def ok(self) -> bool:
        if self.tolerance is None:
            return self.expected == self.measured
        return abs(self.measured - self.expected) <= self.tolerance


@dataclass
class ModuleChecks:
    name: str
    kind: str  # a layer kind, or "block"
    checks: list[QuantityCheck]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def get(self, quantity: str) -> QuantityCheck:
        return next(c for c in self.checks if c.quantity == quantity)


@dataclass
class Verification:
    analysis: Analysis
    layers: list[ModuleChecks]
    blocks: list[ModuleChecks]
    totals: list[ModuleChecks]  # whole-model and per-operator sums
    unsupported: dict[str, int] = field(default_factory=dict)
    padding: dict[str, int] = field(default_factory=dict)  # NumPy reference: MAdds on zero padding

    @property
    def ok(self) -> bool:
        return all(m.ok for m in self.layers + self.blocks + self.totals)

    @property
    def mismatches(self) -> list[tuple[str, QuantityCheck]]:
        return [(m.name, c) for m in self.layers + self.blocks + self.totals for c in m.checks if not c.ok]


def memory_estimate(a: Analysis) -> tuple[int, int, str]:
    """Bytes of parameters and buffers, bytes of the largest activation, and where it is."""
    values = a.total.params + sum(2 * r.spec.num_features for r in a.layers if isinstance(r.spec, BatchNorm2d))
    largest = max(a.layers, key=lambda r: elements(r.output_shape))
    return (values * BYTES_PER_VALUE, elements(largest.output_shape) * BYTES_PER_VALUE, largest.name)


def default_memory_limit() -> int:
    """Half of this machine's physical memory (tracing holds a copy of the activations)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def _size(n: int) -> str:
    return count_text(n, "byte")


def check_fits(a: Analysis, limit: int, reference: bool = False) -> None:
    weights, act, where = memory_estimate(a)
    need = weights + 3 * act  # input, output and the tracer's copy of the largest map
    kept = ""
    if reference:  # every layer's output kept: float32 from torch, two float64 copies
        outputs = sum(elements(r.output_shape) for r in a.layers) * BYTES_PER_VALUE * 5
        need += outputs
        kept = f", every layer's output kept for --reference {_size(outputs)}"
    if need > limit:
        raise TooLarge(
            f"{_describe(a)} needs about {_size(need)}: parameters and buffers {_size(weights)}, "
            f"largest activation {_size(act)} at {where}, counted 3 times{kept}; over the limit "
            f"of {_size(limit)}; choose a smaller alpha or resolution, or raise --max-memory")


def _describe(a: Analysis) -> str:
    c = a.config
    h, w = c["resolution"]
    return f"{a.model} alpha={c['alpha']:g} resolution={h if h == w else f'{h}x{w}'}"


def _output_hooks(net: nn.Module, names: Iterable[str], seen: dict[str, object], keep: bool) -> list:
    """Record each named module's output: the tensor itself when ``keep``, else its shape."""
    modules = dict(net.named_modules())
    handles = []
    for name in names:
        def hook(module, inputs, output, name=name):
            # a copy: the in-place activation that follows rewrites the tensor
            seen[name] = output.detach().clone() if keep else tuple(output.shape)
        handles.append(modules[name].register_forward_hook(hook))
    return handles


REFERENCE_RTOL = 1e-4  # float32 torch against float64 NumPy, relative to the layer's largest value


def _reference_checks(a: Analysis, net: nn.Module, x: torch.Tensor, outputs: dict[str, object],
                      layers: list[ModuleChecks]) -> dict[str, int]:
    """Run the NumPy reference kernels; add its checks to ``layers``; return padding MAdds."""
    from .reference import forward

    state = {k: v.detach().double().numpy() for k, v in net.state_dict().items()}
    run = forward(a.spec, state, x.double().numpy(), keep_outputs=True)
    padding = {}
    for m, r in zip(layers, a.layers):
        torch_out = outputs[r.name].double().numpy()  # type: ignore[attr-defined]
        scale = max(float(abs(torch_out).max()), 1e-30)
        err = float(abs(run.outputs[r.name] - torch_out).max()) / scale
        m.checks.append(QuantityCheck("values", 0.0, err, REFERENCE_RTOL))
        if r.kind in MULTIPLY_ADD_KINDS or r.kind == "attention":
            m.checks.append(QuantityCheck("executed", r.macs, run.executed[r.name].macs // x.shape[0]))
        if r.kind in MULTIPLY_ADD_KINDS:
            padding[r.name] = run.executed[r.name].padding_macs // x.shape[0]
    return padding


def verify(model, alpha: float = 1.0, resolution=DEFAULT_RESOLUTION, num_classes: int = DEFAULT_CLASSES,
           max_memory: int | None = None, reference: bool = False, **variant) -> Verification:
    """Build ``model`` (a zoo name or a spec file's Family, with the variant options of
    :func:`~flopcalc.zoo.get_spec`), measure it three ways, and compare every layer and block.

    ``reference`` also runs the NumPy reference kernels: their outputs against torch's,
    their executed multiply-adds against the formula, and the share that multiplies padding.
    """
    a = count_layers(model, alpha, resolution, num_classes, **variant)
    check_fits(a, default_memory_limit() if max_memory is None else max_memory, reference)
    parameter_count = _fvcore()[1]

    torch.manual_seed(0)
    net = build(a.spec).eval()
    x = torch.randn(1, *a.input_shape)

    outputs: dict[str, object] = {}
    handles = _output_hooks(net, (r.name for r in a.layers), outputs, keep=reference)
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    shapes = {name: tuple(getattr(o, "shape", o)[1:]) for name, o in outputs.items()}

    flops = fvcore_flops(net, x)
    by_module = flops.by_module()
    by_operator = flops.by_operator()
    params = parameter_count(net)

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(x)
    # FlopCounterMode names modules "<root class>.<qualified name>"; "Global" is the total.
    fc: dict[str, int] = {}
    for key, ops in counter.get_flop_counts().items():
        if key != "Global":
            fc[key.partition(".")[2]] = sum(ops.values())
    fc_total = counter.get_total_flops()

    layers = [ModuleChecks(r.name, r.kind, [
        QuantityCheck("shape", r.output_shape, shapes.get(r.name)),
        QuantityCheck("params", r.params, params.get(r.name, 0)),
        QuantityCheck("fvcore", FVCORE.count(r), int(by_module.get(r.name, 0))),
        QuantityCheck("flop_counter", FLOP_COUNTER.count(r), fc.get(r.name, 0)),
    ]) for r in a.layers]

    blocks = []
    leaf_names = {r.name for r in a.layers}
    module_leaves = tuple(n for n, m in net.named_modules() if not m._modules)
    for name, _ in net.named_modules():
        if not name or name in leaf_names:
            continue
        rows = [r for r in a.layers if r.name.startswith(name + ".")]
        blocks.append(ModuleChecks(name, "block", [
            QuantityCheck("params", sum(r.params for r in rows), params.get(name, 0)),
            QuantityCheck("fvcore", FVCORE.total(rows), int(by_module.get(name, 0))),
            QuantityCheck("flop_counter", FLOP_COUNTER.total(rows), fc.get(name, 0)),
        ]))

    kinds = lambda *ks: [r for r in a.layers if r.kind in ks]  # noqa: E731
    totals = [
        ModuleChecks("model", "total", [
            QuantityCheck("modules", tuple(r.name for r in a.layers), module_leaves),
            QuantityCheck("params", a.total.params, params[""]),
            QuantityCheck("numel", a.total.params, sum(p.numel() for p in net.parameters())),
            QuantityCheck("fvcore", FVCORE.total(a.layers), int(flops.total())),
            QuantityCheck("flop_counter", FLOP_COUNTER.total(a.layers), fc_total),
        ]),
        ModuleChecks("conv + linear macs", "total", [QuantityCheck(
            "fvcore", sum(r.macs for r in kinds(*MULTIPLY_ADD_KINDS)),
            int(by_operator.get("conv", 0) + by_operator.get("linear", 0)))]),
        ModuleChecks("batch norm", "total", [QuantityCheck(
            "fvcore", FVCORE.total(kinds("batchnorm")), int(by_operator.get("batch_norm", 0)))]),
        ModuleChecks("average pool", "total", [QuantityCheck(
            "fvcore", FVCORE.total(kinds("pool")), int(by_operator.get("adaptive_avg_pool2d", 0)))]),
    ]
    padding = _reference_checks(a, net, x, outputs, layers) if reference else {}
    return Verification(a, layers, blocks, totals, dict(sorted(flops.unsupported_ops().items())), padding)


def verify_grid(models: Iterable[str], alphas=GRID_ALPHAS, resolutions=GRID_RESOLUTIONS,
                num_classes: int = DEFAULT_CLASSES, max_memory: int | None = None, progress=None) -> list[Verification]:
    """Every config of models x alphas x resolutions; ``progress(done, total)`` after each."""
    configs = [(m, a, r) for m in models for a in alphas for r in resolutions]
    reports = []
    for m, a, r in configs:
        reports.append(verify(m, a, r, num_classes, max_memory))
        if progress is not None:
            progress(len(reports), len(configs))
    return reports

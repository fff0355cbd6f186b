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

from ..analyze import Analysis, analyze
from ..conventions import FLOP_COUNTER, FVCORE, elements
from ..costs import MULTIPLY_ADD_KINDS
from ..spec import BatchNorm2d, SpecError
from ..zoo import DEFAULT_CLASSES, get_spec
from .build import build

GRID_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.4)
GRID_RESOLUTIONS = (96, 128, 160, 192, 224)
BYTES_PER_VALUE = 4  # float32

# What fvcore 0.1.5 cannot count in these models, and what the op is.
UNSUPPORTED_MEANING = {"aten::hardtanh_": "ReLU6", "aten::hardtanh": "ReLU6",
                       "aten::add": "residual add", "aten::add_": "residual add"}


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
class Check:
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
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def get(self, quantity: str) -> Check:
        return next(c for c in self.checks if c.quantity == quantity)


@dataclass
class Report:
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
    def mismatches(self) -> list[tuple[str, Check]]:
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
    human = f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.2f} MB"
    return f"{n:,} bytes ({human})"


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
    return f"{a.model} alpha={c['alpha']:g} resolution={c['resolution']}"


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
    run = forward(get_spec(a.model, a.config["alpha"], a.config["num_classes"]), state,
                  x.double().numpy(), keep_outputs=True)
    padding = {}
    for m, r in zip(layers, a.layers):
        torch_out = outputs[r.name].double().numpy()  # type: ignore[attr-defined]
        scale = max(float(abs(torch_out).max()), 1e-30)
        err = float(abs(run.outputs[r.name] - torch_out).max()) / scale
        m.checks.append(Check("values", 0.0, err, REFERENCE_RTOL))
        if r.kind in MULTIPLY_ADD_KINDS:
            m.checks.append(Check("executed", r.macs, run.executed[r.name].macs // x.shape[0]))
            padding[r.name] = run.executed[r.name].padding_macs // x.shape[0]
    return padding


def verify(model: str, alpha: float = 1.0, resolution: int = 224, num_classes: int = DEFAULT_CLASSES,
           max_memory: int | None = None, reference: bool = False) -> Report:
    """Build ``model``, measure it three ways, and compare every layer and block.

    ``reference`` also runs the NumPy reference kernels: their outputs against torch's,
    their executed multiply-adds against the formula, and the share that multiplies padding.
    """
    a = analyze(model, alpha, resolution, num_classes)
    check_fits(a, default_memory_limit() if max_memory is None else max_memory, reference)
    parameter_count = _fvcore()[1]

    torch.manual_seed(0)
    net = build(get_spec(model, alpha, num_classes)).eval()
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
        Check("shape", r.output_shape, shapes.get(r.name)),
        Check("params", r.params, params.get(r.name, 0)),
        Check("fvcore", FVCORE.count(r), int(by_module.get(r.name, 0))),
        Check("flop_counter", FLOP_COUNTER.count(r), fc.get(r.name, 0)),
    ]) for r in a.layers]

    blocks = []
    leaf_names = {r.name for r in a.layers}
    module_leaves = tuple(n for n, m in net.named_modules() if not m._modules)
    for name, _ in net.named_modules():
        if not name or name in leaf_names:
            continue
        rows = [r for r in a.layers if r.name.startswith(name + ".")]
        blocks.append(ModuleChecks(name, "block", [
            Check("params", sum(r.params for r in rows), params.get(name, 0)),
            Check("fvcore", FVCORE.total(rows), int(by_module.get(name, 0))),
            Check("flop_counter", FLOP_COUNTER.total(rows), fc.get(name, 0)),
        ]))

    kinds = lambda *ks: [r for r in a.layers if r.kind in ks]  # noqa: E731
    totals = [
        ModuleChecks("model", "total", [
            Check("modules", tuple(r.name for r in a.layers), module_leaves),
            Check("params", a.total.params, params[""]),
            Check("numel", a.total.params, sum(p.numel() for p in net.parameters())),
            Check("fvcore", FVCORE.total(a.layers), int(flops.total())),
            Check("flop_counter", FLOP_COUNTER.total(a.layers), fc_total),
        ]),
        ModuleChecks("conv + linear MAdds", "total", [Check(
            "fvcore", a.total.macs, int(by_operator.get("conv", 0) + by_operator.get("linear", 0)))]),
        ModuleChecks("batch norm", "total", [Check(
            "fvcore", FVCORE.total(kinds("batchnorm")), int(by_operator.get("batch_norm", 0)))]),
        ModuleChecks("average pool", "total", [Check(
            "fvcore", FVCORE.total(kinds("pool")), int(by_operator.get("adaptive_avg_pool2d", 0)))]),
    ]
    padding = _reference_checks(a, net, x, outputs, layers) if reference else {}
    return Report(a, layers, blocks, totals, dict(sorted(flops.unsupported_ops().items())), padding)


def verify_grid(models: Iterable[str], alphas=GRID_ALPHAS, resolutions=GRID_RESOLUTIONS,
                num_classes: int = DEFAULT_CLASSES, max_memory: int | None = None) -> list[Report]:
    return [verify(m, a, r, num_classes, max_memory) for m in models for a in alphas for r in resolutions]


# ----------------------------------------------------------------------------- output

QUANTITY_LABEL = {"modules": "layer names", "shape": "shape", "params": "params", "numel": "sum(p.numel())",
                  "fvcore": "fvcore", "flop_counter": "FlopCounterMode", "executed": "NumPy executed MAdds",
                  "values": "NumPy output (relative difference)"}


def _value(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.1e}"
    if isinstance(v, tuple) and v and isinstance(v[0], str):
        return f"{len(v)} modules"
    if isinstance(v, tuple):
        return "x".join(map(str, v))
    return f"{v:,}" if isinstance(v, int) else str(v)


def _mark(m: ModuleChecks) -> str:
    if m.ok:
        return "ok"
    return "MISMATCH " + "; ".join(f"{QUANTITY_LABEL[c.quantity]}: flopcalc {_value(c.expected)}, "
                                   f"measured {_value(c.measured)}" for c in m.checks if not c.ok)


def _unsupported_line(r: Report) -> str:
    if not r.unsupported:
        return "fvcore counted every op it met."
    ops = ", ".join(f"{op} x{n} ({UNSUPPORTED_MEANING.get(op, 'unknown')})" for op, n in r.unsupported.items())
    return f"fvcore could not count: {ops}; flopcalc charges them 0 MAdds too (ReLU fvcore skips silently)."


def report_json(r: Report) -> dict:
    def module(m: ModuleChecks) -> dict:
        return {"name": m.name, "kind": m.kind, "ok": m.ok,
                "checks": {c.quantity: {"expected": _plain(c.expected), "measured": _plain(c.measured)}
                           for c in m.checks}}
    return {"model": r.analysis.model, "config": r.analysis.config, "ok": r.ok,
            "layers": [module(m) for m in r.layers], "blocks": [module(m) for m in r.blocks],
            "totals": [module(m) for m in r.totals], "unsupported_ops": r.unsupported,
            **({"padding_macs": r.padding} if r.padding else {})}


def _plain(v: object) -> object:
    return list(v) if isinstance(v, tuple) else v


def render_report(r: Report, fmt: str) -> str:
    from ..render import csv_text, describe, json_text, table_text

    if fmt == "json":
        return json_text(report_json(r))
    rows = [[m.name, m.kind, _value(m.get("shape").expected), _value(m.get("params").expected),
             _value(row.macs), _value(m.get("fvcore").expected), _value(m.get("flop_counter").expected),
             _mark(m)] for m, row in zip(r.layers, r.analysis.layers)]
    head = ["layer", "kind", "output", "params", "MAdds", "fvcore", "FlopCounterMode", "check"]
    if fmt == "csv":
        return csv_text([head] + rows)
    a = r.analysis
    n_checks = sum(len(m.checks) for m in r.layers + r.blocks + r.totals)
    bad = r.mismatches
    verdict = (f"all {n_checks} checks agree" if not bad else f"{len(bad)} of {n_checks} checks DISAGREE")
    lines = [f"{describe(a)}: {len(r.layers)} layers, {len(r.blocks)} blocks; {verdict}", "",
             table_text(rows, head, fmt, 3), ""]
    tot = table_text([[m.name, QUANTITY_LABEL[c.quantity], _value(c.expected), _value(c.measured),
                       "ok" if c.ok else "MISMATCH"] for m in r.totals for c in m.checks],
                     ["total", "counter", "flopcalc", "measured", "check"], fmt, 2)
    lines += [tot, ""]
    bad_blocks = [m for m in r.blocks if not m.ok]
    lines.append(f"blocks: {len(r.blocks) - len(bad_blocks)} of {len(r.blocks)} agree on params, fvcore "
                 "and FlopCounterMode" + "".join(f"\n  {m.name}: {_mark(m)}" for m in bad_blocks))
    lines.append(_unsupported_line(r))
    lines.append("columns: output, params and MAdds from flopcalc; fvcore = flopcalc's record under "
                 "fvcore's convention (MAdds, batch norm 2 per output element, pooling 1 per input "
                 "element); FlopCounterMode = 2 x MAdds of conv and linear. A row is ok when the built "
                 "model's hooks, fvcore and FlopCounterMode measure exactly these numbers.")
    if r.padding:
        lines += ["", _padding_text(r, fmt)]
    return "\n".join(lines) + "\n"


def _padding_text(r: Report, fmt: str) -> str:
    from ..render import table_text

    macs = {row.name: row.macs for row in r.analysis.layers}
    rows = [[name, f"{macs[name]:,}", f"{pad:,}", f"{100 * pad / macs[name]:.2f}%"]
            for name, pad in r.padding.items() if pad]
    total = sum(r.padding.values())
    values = [m.get("values").measured for m in r.layers]
    return (f"NumPy reference kernels: largest relative difference from torch {max(values):.1e}.\n"
            f"Outputs equal torch's on all {len(values)} layers (relative tolerance {REFERENCE_RTOL:g}); "
            "executed multiply-adds equal the formula on every conv and linear layer.\n"
            f"{total:,} of {r.analysis.total.macs:,} MAdds ({100 * total / r.analysis.total.macs:.2f}%) "
            "multiply zero padding; the formula counts them, as every counter does:\n\n"
            + table_text(rows, ["layer", "MAdds", "on padding", "share"], fmt, 1))


def render_grid(reports: list[Report], fmt: str) -> str:
    from ..render import csv_text, json_text, table_text

    head = ["model", "alpha", "resolution", "layers", "params", "MAdds", "fvcore", "FlopCounterMode", "check"]

    def row(r: Report) -> list:
        a = r.analysis
        fv = r.totals[0].get("fvcore")
        fc = r.totals[0].get("flop_counter")
        mark = "ok" if r.ok else f"{len(r.mismatches)} MISMATCHES"
        return [a.model, a.config["alpha"], a.config["resolution"], len(r.layers), a.total.params,
                a.total.macs, fv.measured, fc.measured, mark]

    rows = [row(r) for r in reports]
    if fmt == "json":
        return json_text({"ok": all(r.ok for r in reports),
                          "configs": [dict(zip(head, x)) | {"ok": r.ok} for x, r in zip(rows, reports)]})
    if fmt == "csv":
        return csv_text([head] + rows)
    shown = [[m, f"{al:g}", str(res), str(n), f"{p:,}", f"{mac:,}", f"{fv:,}", f"{fc:,}", mark]
             for m, al, res, n, p, mac, fv, fc, mark in rows]
    bad = [r for r in reports if not r.ok]
    verdict = (f"all {len(reports)} configs agree exactly, every layer and block"
               if not bad else f"{len(bad)} of {len(reports)} configs DISAGREE")
    return (f"{table_text(shown, head, fmt, 3)}\n\n{verdict}\n"
            "fvcore and FlopCounterMode columns are measured on the built model; each config "
            "also checks every layer's output shape, params and counts (flopcalc verify MODEL).\n")


def run_cli(args, resolution: int | None) -> int:
    """``flopcalc verify``: exit 0 when everything agrees, 1 on any mismatch."""
    import sys

    if args.grid:
        models = [args.model] if args.model else ["mobilenet_v1", "mobilenet_v2"]
        alphas = (args.alpha,) if args.alpha is not None else GRID_ALPHAS
        resolutions = (resolution,) if resolution else GRID_RESOLUTIONS
        for m in models:  # refuse before any work if the largest config would not fit
            check_fits(analyze(m, max(alphas), max(resolutions), args.classes),
                       args.max_memory or default_memory_limit())
        reports = verify_grid(models, alphas, resolutions, args.classes, args.max_memory)
        sys.stdout.write(render_grid(reports, args.format))
        return 0 if all(r.ok for r in reports) else 1
    alpha = 1.0 if args.alpha is None else args.alpha
    report = verify(args.model, alpha, resolution or 224, args.classes, args.max_memory, args.reference)
    sys.stdout.write(render_report(report, args.format))
    return 0 if report.ok else 1

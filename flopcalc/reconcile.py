"""Why the counters disagree: each convention's total against flopcalc's default, broken down
by cause, the causes adding up exactly to the difference.

For a convention C and a config, the difference between C's printed number and the default
(``pytorch``: conv + fully connected multiply-adds, every learnable parameter) is split in a
fixed order, each step one exact difference, so the steps telescope:

1. ``classes``: the default count of the model with C's classifier width (TF-Slim's 1001),
   less the default count;
2. ``rounding``: the default count with C's channel rounding too (its whole architecture), less
   step 1's;
3. on C's architecture, per cause (``bias``, ``batchnorm``, ``activation``, ``pool``, ``add``,
   and ``weights``, which no counter here disputes): what C counts for it less what the default
   counts;
4. ``flops``: ``(flops per multiply-add - 1)`` x C's multiply-adds (torch's FlopCounterMode
   prints two flops per multiply-add).
"""

from __future__ import annotations

from dataclasses import dataclass

from .walk import Analysis, count_layers as _analyze
from .conventions import CAUSES, CONVENTIONS, DEFAULT, Convention, architecture, count
from .zoo import DEFAULT_CLASSES
from .scaling import DEFAULT_RESOLUTION

REASONS = ("classes", "rounding") + tuple(c for c in CAUSES) + ("batch", "flops")
REASON_TEXT = {
    "classes": "a classifier of another width (TF-Slim: 1001 classes, background included)",
    "rounding": "another channel rounding rule for the width multiplier",
    "weights": "conv and fully connected weights and their multiply-adds",
    "bias": "biases: their values, and one add per output element",
    "batchnorm": "batch norm: gamma/beta or stored statistics per channel, operations per element",
    "activation": "activations per element",
    "pool": "global average pooling per input element",
    "add": "residual adds per element",
    "norm": "a recorded model's layer and group norms, operations per element",
    "attention": "a recorded model's attention products (Q K^T and A V), which some tools do not see",
    "other": "what else a tool charges a recorded model: softmax, interpolation, elementwise products, "
             "reductions, pooling windows",
    "sizes": "the model's own arithmetic on tensor sizes (n_h * n_w): one operation each in a torch.jit trace",
    "batch": "one image's count printed for a batch (the total divided by the batch)",
    "flops": "two flops per multiply-add",
}


@dataclass(frozen=True)
class Line:
    """One convention's numbers and their difference from the default, by reason."""

    convention: Convention
    num_classes: int
    params: int | None
    reported: int | None          # the operation count as the counter prints it
    params_causes: dict[str, int] | None
    ops_causes: dict[str, int] | None

    def agrees(self, measured: tuple) -> bool:
        """Whether a tool's live ``(params, ops)`` equal this prediction (None: the tool reports none).
        The one test: the printed verdict and the exit status both use it."""
        return all(m is None or m == e for m, e in ((measured[0], self.params), (measured[1], self.reported)))


@dataclass(frozen=True)
class Reconciliation:
    base: Analysis                # the default count of the model asked for
    lines: list[Line]


def _by_cause(parts, side: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in parts:
        for cause, v in (p[side] or {}).items():
            out[cause] = out.get(cause, 0) + v
    return out


def reconcile(model: str, alpha: float = 1.0, resolution=DEFAULT_RESOLUTION, num_classes: int | None = None,
              conventions=None) -> Reconciliation:
    """Every convention's (or those named) numbers for one config, explained by cause.
    ``num_classes`` given fixes the classifier for every convention (no ``classes`` step)."""
    base = _analyze(model, alpha, resolution, DEFAULT_CLASSES if num_classes is None else num_classes)
    lines = []
    for name in conventions or CONVENTIONS:
        conv = CONVENTIONS[name]
        classes, rounding = architecture(conv, num_classes)
        a1 = _analyze(model, alpha, resolution, classes)
        a2 = _analyze(model, alpha, resolution, classes, rounding=rounding)
        lines.append(_line(conv, classes, base, a1, a2))
    return Reconciliation(base, lines)


def reconcile_analysis(base: Analysis, conventions=None) -> Reconciliation:
    """The same for a model whose architecture is its own (a recorded module or ONNX file): no
    classifier or channel-rounding step, only what each convention counts."""
    classes = base.config.get("num_classes")  # None: the model's own classifier
    return Reconciliation(base, [_line(CONVENTIONS[name], classes, base, base, base)
                                 for name in conventions or CONVENTIONS])


def _line(conv: Convention, classes: int, base: Analysis, a1: Analysis, a2: Analysis) -> Line:
    """One convention's numbers for ``a2`` (its architecture), the steps from ``base``: the classifier
    (``a1``), the channel rounding (``a2``), then each cause it counts differently."""
    default = CONVENTIONS[DEFAULT]
    mine, theirs = count(a2, conv), count(a2, default)
    # the causes over the whole batch; a tool that prints one image's count differs by that step too
    whole = count(a2, conv, averaged=False) if conv.averaged else mine
    mine_p, dflt_p = _by_cause(whole.parts, 0), _by_cause(theirs.parts, 0)
    mine_o, dflt_o = _by_cause(whole.parts, 1), _by_cause(theirs.parts, 1)

    def steps(pick, mine_c, dflt_c, flops: int | None) -> dict[str, int]:
        d = {"classes": pick(a1) - pick(base), "rounding": pick(a2) - pick(a1)}
        d.update({c: mine_c.get(c, 0) - dflt_c.get(c, 0) for c in CAUSES})
        if flops is not None:
            d["batch"] = mine.total.macs - whole.total.macs
            d["flops"] = flops
        return d

    params_causes = ops_causes = None
    if conv.params is not None:
        params_causes = steps(lambda a: a.total.params, mine_p, dflt_p, None)
        assert sum(params_causes.values()) == mine.total.params - base.total.params
    if conv.ops is not None:
        ops_causes = steps(lambda a: a.total.macs, mine_o, dflt_o, (conv.flops_per_mac - 1) * mine.total.macs)
        assert sum(ops_causes.values()) == mine.reported - base.total.macs
    return Line(conv, classes, mine.total.params, mine.reported, params_causes, ops_causes)

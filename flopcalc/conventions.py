"""Counting conventions: what a named tool or paper charges for each layer.

The analyzer records each layer's kind, shapes and multiply-adds once; a convention is a
rule that turns that record into the number a given counter reports for the layer, so
"what does fvcore say, and why is it not the paper's number" is a function, not a second
copy of the architecture. (The published-figure conventions come in a later issue.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .analyze import LayerRow
from .costs import MULTIPLY_ADD_KINDS


def elements(shape: tuple) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


@dataclass(frozen=True)
class Convention:
    name: str
    description: str
    count: Callable[[LayerRow], int]

    def total(self, rows) -> int:
        return sum(self.count(r) for r in rows)


def _fvcore(row: LayerRow) -> int:
    if row.kind in MULTIPLY_ADD_KINDS:
        return row.macs
    if row.kind == "batchnorm":  # fvcore charges scale and shift, folded or not
        return (2 if row.spec.affine else 1) * elements(row.output_shape)
    if row.kind == "pool":
        return elements(row.input_shape)
    return 0


PAPER = Convention(
    "paper", "multiply-adds of conv and fully connected layers (the MobileNet papers' Mult-Adds)",
    lambda row: row.macs)

FVCORE = Convention(
    "fvcore",
    "fvcore 0.1.5 FlopCountAnalysis, model in eval mode: conv and linear multiply-adds; batch "
    "norm 2 per output element (1 without affine); adaptive average pooling 1 per input "
    "element; ReLU ignored; ReLU6 (aten::hardtanh_) and residual adds (aten::add) "
    "unsupported, so 0", _fvcore)

FLOP_COUNTER = Convention(
    "flop_counter",
    "torch.utils.flop_counter.FlopCounterMode: 2 flops per multiply-add of convolution and "
    "matrix multiply; nothing else", lambda row: 2 * row.macs)

CONVENTIONS: dict[str, Convention] = {c.name: c for c in (PAPER, FVCORE, FLOP_COUNTER)}

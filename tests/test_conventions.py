"""Conventions against live fvcore counts of torchvision's V2 (tests/data), no torch needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flopcalc import analyze
from flopcalc.conventions import CONVENTIONS, FLOP_COUNTER, FVCORE, PAPER

RECORD = json.loads((Path(__file__).parent / "data" / "torchvision_mobilenet_v2.json").read_text())
CASES = [(alpha, res, ops) for alpha, m in RECORD["models"].items() for res, ops in m["fvcore"].items()]


@pytest.mark.parametrize("alpha, resolution, ops", CASES, ids=[f"{a}-{r}" for a, r, _ in CASES])
def test_fvcore_convention_reproduces_fvcore_per_operator(alpha, resolution, ops):
    a = analyze("mobilenet_v2", float(alpha), int(resolution))
    of = lambda *kinds: [r for r in a.layers if r.kind in kinds]  # noqa: E731
    assert FVCORE.total(of("batchnorm")) == ops["batch_norm"]
    assert FVCORE.total(of("pool")) == ops["adaptive_avg_pool2d"]
    assert FVCORE.total(of("pointwise", "depthwise", "conv")) == ops["conv"]
    assert FVCORE.total(of("linear")) == ops["linear"]
    assert FVCORE.total(a.layers) == sum(ops.values())


def test_paper_and_flop_counter():
    a = analyze("mobilenet_v1")
    assert PAPER.total(a.layers) == a.total.macs == 568_740_352
    assert FLOP_COUNTER.total(a.layers) == 2 * a.total.macs
    assert set(CONVENTIONS) == {"paper", "fvcore", "flop_counter"}
    assert all(c.description for c in CONVENTIONS.values())

"""make_divisible: the width rule torchvision uses."""

from __future__ import annotations

import json

from hypothesis import given, strategies as st

from flopcalc.scaling import make_divisible, resolution_from_rho
from support import DATA



def nearest_multiple(v: float, divisor: int) -> int:
    """Independent reading of "nearest multiple, ties up": scan the two neighbours."""
    below = int(v // divisor) * divisor
    above = below + divisor
    return above if above - v <= v - below else below


@given(st.floats(min_value=1e-3, max_value=1e7, allow_nan=False), st.sampled_from([1, 2, 4, 8, 16]))
def test_make_divisible_properties(v, divisor):
    r = make_divisible(v, divisor)
    assert r % divisor == 0
    assert r >= divisor
    assert r >= 0.9 * v
    expected = max(divisor, nearest_multiple(v, divisor))
    if expected < 0.9 * v:
        expected += divisor
    assert r == expected


@given(st.integers(1, 100_000))
def test_multiples_are_kept(k):
    assert make_divisible(8 * k) == 8 * k


def test_widths_match_torchvision():
    """Channel counts that torchvision 0.29.1 built (tests/data, written by tools/)."""
    record = json.loads((DATA / "torchvision_mobilenet_v2.json").read_text())
    for alpha, model in record["models"].items():
        stem = dict((k, s) for k, s in model["state_dict"])["features.0.0.weight"][0]
        assert make_divisible(32 * float(alpha)) == stem, alpha


def test_rho():
    assert resolution_from_rho(192 / 224) == 192
    assert resolution_from_rho(1.0) == 224

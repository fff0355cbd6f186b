"""The walk itself: custom specs, residual checks, errors that name the layer."""

from __future__ import annotations

import pytest
from support import tiny

from flopcalc import analyze
from flopcalc.walk import check_resolution, flatten
from flopcalc.costs import ShapeError
from flopcalc.spec import (Conv2d, Network, SpecError)


def test_custom_network():
    a = analyze(tiny(), resolution=(32, 16))
    assert a.model == "tiny" and a.config == {"resolution": [32, 16], "batch": 1}
    assert [r.name for r in a.layers] == ["stem.0", "stem.1", "stem.2", "block.0.0", "block.0.1",
                                           "block.0.2", "block.add", "pool", "fc"]
    assert a.layer("stem.0").output_shape == (8, 16, 8)
    assert a.layer("block.add").output_shape == (8, 16, 8)
    assert a.layer("stem.0").macs == 3 * 3 * 3 * 8 * 16 * 8
    assert a.total.macs == 3 * 3 * 3 * 8 * 128 + 3 * 3 * 8 * 8 * 128 + 8 * 10


def test_residual_shape_mismatch_names_the_add():
    with pytest.raises(ShapeError, match=r"block.add: residual add of block output \(8, 8, 4\)"):
        analyze(tiny(stride=2), resolution=(32, 16))
    with pytest.raises(ShapeError, match="block.add"):
        analyze(tiny(out_c=16), resolution=32)


def test_flatten_marks_the_residual_source():
    flat = flatten(tiny())
    names = [n for n, _, _ in flat]
    add = names.index("block.add")
    assert flat[add][2] == names.index("block.0.0")
    assert all(skip == -1 for n, _, skip in flat if n != "block.add")


def test_vanishing_feature_map_names_the_layer():
    net = Network("shrink", 3, (("a", Conv2d(3, 4, 5, padding=0)), ("b", Conv2d(4, 4, 5, padding=0))))
    assert analyze(net, resolution=9).layer("b").output_shape == (4, 1, 1)
    with pytest.raises(ShapeError, match=r"^b: .*4x4 map leaves 0x0: the feature map vanishes"):
        analyze(net, resolution=8)


def test_unknown_node_type():
    with pytest.raises(SpecError, match="neither a layer"):
        analyze(Network("bad", 3, (("x", object()),)))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "224", (0, 4), (4,), None])
def test_bad_resolution(bad):
    with pytest.raises(SpecError, match="resolution must be a positive integer"):
        check_resolution(bad)


@pytest.mark.parametrize("kwargs, message", [
    (dict(alpha=0), "alpha must be a finite number > 0, got 0"),
    (dict(alpha=float("nan")), "alpha must be a finite number > 0, got nan"),
    (dict(alpha=float("inf")), "alpha must be a finite number > 0, got inf"),
    (dict(alpha="1"), "alpha must be a finite number > 0, got '1'"),
    (dict(alpha=1e308), "alpha 1e\\+308 is too large"),
    (dict(num_classes=0), "classes must be an integer >= 1, got 0"),
])
def test_bad_config(kwargs, message):
    with pytest.raises(SpecError, match=message):
        analyze("mobilenet_v2", **kwargs)


def test_unknown_model():
    with pytest.raises(SpecError, match="unknown model 'resnet50'; available: mobilenet_v1, mobilenet_v2"):
        analyze("resnet50")


def test_huge_but_valid_values_still_answer():
    a = analyze("mobilenet_v2", alpha=1000.0, resolution=100_000, num_classes=10**9)
    assert a.total.macs > 10**15 and isinstance(a.total.macs, int)
    assert a.layers[-1].output_shape == (10**9,)

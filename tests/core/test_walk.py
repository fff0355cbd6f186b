"""The walk itself: custom specs, residual checks, errors that name the layer."""

from __future__ import annotations

import dataclasses

import pytest
from support import tiny, v2_counts

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
    names = [n for n, *_ in flat]
    add = names.index("block.add")
    assert flat[add][2] == names.index("block.0.0")
    assert all(skip == -1 for n, _, skip, _ in flat if n != "block.add")
    assert all(source == -1 for *_, source in flat)  # no branches


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
    # the last conv is make_divisible(1280 * 1000) = 1,280,000 wide: the classifier alone is 1.28e15
    assert a.layers[-1].macs == 1_280_000 * 10**9 and isinstance(a.total.macs, int)
    assert a.layers[-1].output_shape == (10**9,)
    assert (a.total.params, a.total.macs) == v2_counts(1000.0, 100_000, 10**9)  # Table 2 by hand


# ----------------------------------------------------------------------------- rows by block, top rows
def test_v2_at_depth_2_sums_each_block_by_hand():
    """V2 1.0 at 224 (the paper's Table 2), each block summed: the stem conv 3 -> 32 at stride 2
    (3*3*3*32 weights on a 112x112 map, batch norm 2*32), the first bottleneck (t = 1: depthwise
    3x3 on 32 channels, then 32 -> 16, each with its batch norm)."""
    from flopcalc.walk import block_rows
    a = analyze("mobilenet_v2")
    rows = {r.name: r for r in block_rows(a, 2)}
    assert list(rows)[:3] == ["features.0", "features.1", "features.2"] and len(rows) == 19 + 3
    stem, first = rows["features.0"], rows["features.1"]
    assert (stem.kind, stem.params, stem.macs) == ("conv_bn_act", 3 * 3 * 3 * 32 + 2 * 32, 3 * 3 * 3 * 32 * 112 * 112)
    assert (stem.input_shape, stem.output_shape) == ((3, 224, 224), (32, 112, 112))
    assert (first.kind, first.params) == ("inverted_residual", 9 * 32 + 2 * 32 + 32 * 16 + 2 * 16)
    assert first.macs == 9 * 32 * 112 * 112 + 32 * 16 * 112 * 112
    assert (first.input_shape, first.output_shape) == ((32, 112, 112), (16, 112, 112))  # the projection's output
    assert first.spec is a.spec.items[0][1].items[1][1]                                # the block itself
    recorded = dataclasses.replace(a, spec=None)  # without a spec tree, rows are summed by their names
    assert block_rows(recorded, 2)[1].name == "features.1" and block_rows(recorded, 2)[1].spec is None
    assert (rows["avgpool"].kind, rows["classifier.0"].kind, rows["classifier.1"].kind) == ("pool", "dropout", "linear")
    assert [r.name for r in block_rows(a, 1)] == ["features", "avgpool", "classifier"]


def test_a_recorded_models_rows_by_name():
    from flopcalc.walk import LayerRow, _rows_by_name
    def row(name, params, macs):
        return LayerRow(name, "conv", None, (1,), (2,), params, macs)
    layers = [row("stem.conv", 1, 10), row("blocks.0.a", 2, 20), row("blocks.0.b", 3, 30), row("blocks.1.a", 4, 40),
              row("head", 5, 50), row("/net/blocks.0/Conv", 6, 60), row("/net/blocks.0/Relu", 7, None)]
    at1 = _rows_by_name(layers, 1)
    assert [(r.name, r.params, r.macs) for r in at1] == [
        ("stem.conv", 1, 10), ("blocks", 2 + 3 + 4, 20 + 30 + 40), ("head", 5, 50), ("/net", 13, None)]
    assert at1[1].kind == "block" and at1[1].spec is None
    wide = [LayerRow("b.0", "conv", None, (1,), (2,), 1, 1), LayerRow("b.1", "conv", None, (2,), (3,), 1, 1),
            LayerRow("b.2", "conv", None, (3,), (4,), 1, 1)]
    assert (_rows_by_name(wide, 1)[0].input_shape, _rows_by_name(wide, 1)[0].output_shape) == ((1,), (4,))
    at2 = _rows_by_name(layers, 2)
    assert [r.name for r in at2] == ["stem.conv", "blocks.0", "blocks.1.a", "head", "/net/blocks.0"]


@pytest.mark.parametrize("node, kind", [("InvertedResidual", "inverted_residual"), ("MBConv", "mbconv"),
                                        ("ConvBNAct", "conv_bn_act"), ("SqueezeExcite", "squeeze_excite"),
                                        ("DepthwiseSeparable", "depthwise_separable"), ("Sequential", "sequential")])
def test_block_kinds(node, kind):
    from flopcalc.walk import block_kind
    assert block_kind(type(node, (), {})()) == kind


def test_top_rows_by_macs_then_params():
    from flopcalc.walk import top_rows
    a = analyze("mobilenet_v1")
    top = top_rows(a, 3)
    # Table 1: the 1x1 convs 1024 -> 1024 at 7x7 and 512 -> 512 at 14x14 tie on multiply-adds; the
    # first has more parameters, so it leads
    assert [r.macs for r in top] == [1024 * 1024 * 49, 512 * 512 * 196, 512 * 512 * 196]
    assert top[0].params == 1024 * 1024 and top[1].params == 512 * 512
    assert len(top_rows(a, 1000)) == len(a.layers)
    assert top_rows(analyze("mobilenet_v1", convention="keras"), 1)[0].macs is None


def test_separable_takes_alpha_and_rho_rounded_and_at_least_1():
    from flopcalc.walk import separable
    r = separable(3, 512, 512, 14, 1, alpha=0.75, rho=0.714)   # the paper's Table 3 rows: 384 channels, 10x10
    assert (r.kernel, r.in_c, r.out_c, r.size, r.stride, r.out_size) == (3, 384, 384, 10, 1, 10)
    assert r.standard == type(r.standard)(9 * 384 * 384, 9 * 384 * 384 * 100)
    assert r.depthwise == type(r.standard)(9 * 384, 9 * 384 * 100)
    assert r.pointwise == type(r.standard)(384 * 384, 384 * 384 * 100)
    tiny_ = separable(3, 4, 4, 4, 2, alpha=0.1, rho=0.1)       # rounds to 0: kept at 1
    assert (tiny_.in_c, tiny_.out_c, tiny_.size, tiny_.out_size) == (1, 1, 1, 1)


def test_an_analysis_finds_a_layer_by_name():
    a = analyze("mobilenet_v1")
    assert a.layer("classifier.1").macs == 1024 * 1000 and a.batch == 1
    with pytest.raises(KeyError, match="'nope'"):
        a.layer("nope")


# ----------------------------------------------------------------------------- the walk's own rules
def test_a_skip_layer_first_in_its_block_adds_its_own_input():
    """flatten's rule: a residual add with no layer before it in its block takes its own input
    (x + x); one after layers takes the block's first layer's input, even the network's first."""
    from flopcalc.spec import Conv2d, ResidualAdd, Sequential
    from flopcalc.walk import count_layers
    lone = Sequential((("add", ResidualAdd()),))
    first = Sequential((("0", Conv2d(3, 3, 3)), ("add", ResidualAdd())))
    net = Network("skips", 3, (("first", first), ("lone", lone)))
    assert [(n, s) for n, _, s, _ in flatten(net)] == [("first.0", -1), ("first.add", 0), ("lone.add", -1)]
    a = count_layers(net, resolution=5)
    assert [r.output_shape for r in a.layers] == [(3, 5, 5)] * 3
    with pytest.raises(SpecError, match=r"^spec: int is neither a layer with a cost formula nor a block with "
                                        r"children$"):
        flatten(3)
    with pytest.raises(SpecError, match=r"^first.x: str is neither a layer with a cost formula nor a block"):
        flatten(Sequential((("x", "conv"),)), "first")
    assert flatten(Conv2d(3, 3, 3), "stem") == (("stem", Conv2d(3, 3, 3), -1, -1),)


def test_a_shape_error_names_the_layer():
    from flopcalc.spec import Conv2d, Sequential
    net = Network("bad", 3, (("body", Sequential((("0", Conv2d(4, 8, 3)),))),))
    with pytest.raises(ShapeError, match=r"^body.0: Conv2d expects 4 input channels, got 3"):
        analyze(net, resolution=8)


def test_the_flat_form_is_cached_per_spec_and_bounded():
    from flopcalc import walk as w
    net = analyze("mobilenet_v2").spec
    assert w._flat(net) is w._flat(net) and w._FLAT[id(net)][0] is net
    w._FLAT.clear()
    specs = [Network(f"n{i}", 3, ()) for i in range(600)]
    for s in specs:
        w._flat(s)
    assert len(w._FLAT) <= 513 and all(w._FLAT[id(s)][0] is s for s in specs[-80:])  # cleared once past 512
    assert w._flat(specs[0]) == () and w._FLAT[id(specs[0])][0] is specs[0]


@pytest.mark.parametrize("batch", [0, -1, 1.5, True, "2"])
def test_a_bad_batch_is_refused(batch):
    with pytest.raises(SpecError, match=f"^batch must be an integer >= 1, got {batch!r}$"):
        analyze("mobilenet_v1", batch=batch)


def test_the_config_records_the_options_that_change_the_model():
    a = analyze("mobilenet_v1", 0.5, 64, 10, full_conv=True, small_input=True, batch=2)
    assert a.config == {"alpha": 0.5, "resolution": [64, 64], "num_classes": 10, "batch": 2, "full_conv": True,
                        "small_input": True}
    assert "full_conv" not in analyze("mobilenet_v1").config and "small_input" not in analyze("mobilenet_v1").config
    # small input: the stem at stride 1 (64 -> 64), the full-conv blocks are one standard conv each
    assert a.layers[0].output_shape == (16, 64, 64) and a.layers[3].kind == "conv"


def test_a_residual_adds_the_blocks_own_input_even_first_in_the_network():
    from flopcalc.spec import Conv2d, ResidualAdd, Sequential
    from flopcalc.walk import block_rows, count_layers
    # the first block widens 3 -> 8 channels: its add cannot take the network's 3-channel input
    widen = Network("w", 3, (("block", Sequential((("0", Conv2d(3, 8, 3)), ("add", ResidualAdd())))),))
    with pytest.raises(ShapeError, match=r"^block.add: residual add of block output \(8, 5, 5\) and block input "
                                         r"\(3, 5, 5\)$"):
        count_layers(widen, resolution=5)
    # a lone add (x + x) after a widening conv takes its own 8-channel input, not the conv's
    lone = Network("l", 3, (("c", Conv2d(3, 8, 3)), ("s", Sequential((("add", ResidualAdd()),)))))
    assert count_layers(lone, resolution=5).layers[-1].output_shape == (8, 5, 5)
    # a bare layer's error is named by its type
    with pytest.raises(ShapeError, match=r"^Conv2d: Conv2d expects 4 input channels, got 3"):
        from flopcalc.walk import walk
        walk(Conv2d(4, 8, 3), (3, 5, 5))
    # at depth 1 the classifier block ends with its linear layer: 1000 outputs, not the dropout's 1280
    rows = {r.name: r for r in block_rows(analyze("mobilenet_v2"), 1)}
    assert (rows["classifier"].input_shape, rows["classifier"].output_shape) == ((1280,), (1000,))


def test_flatten_starts_each_branch_from_the_blocks_input_and_joins_their_outputs():
    """Mobile MQA's three branches each read the block's input (the key and value branches' first layers
    point at the block's first layer, whose input they take); the attention takes the branches' last
    layers' outputs, the queries first."""
    from flopcalc.spec import MobileMQA, MultiQueryAttention, Sequential as Seq
    from flopcalc.walk import walk
    flat = flatten(MobileMQA(8, 8, 2, 4, 4, kv_stride=2))
    assert [n for n, *_ in flat] == ["query.proj", "key.down_conv", "key.norm", "key.proj", "value.down_conv",
                                     "value.norm", "value.proj", "attention", "output.proj"]
    assert [source for *_, source in flat] == [-1, 0, -1, -1, 0, -1, -1, -1, -1]
    assert [skip for _, _, skip, _ in flat] == [-1] * 7 + [(0, 3, 6), -1]
    rows, out = walk(MobileMQA(8, 8, 2, 4, 4, kv_stride=2), (8, 6, 6))
    assert [r.input_shape for r in rows[4:8]] == [(8, 6, 6), (8, 3, 3), (8, 3, 3), (8, 6, 6)]
    assert rows[7].macs == 2 * 36 * 9 * (4 + 4) and out == (8, 6, 6)
    with pytest.raises(SpecError, match=r"^x.attention: MultiQueryAttention joins branches, but its block has none$"):
        flatten(Seq((("attention", MultiQueryAttention(2, 4, 4)),)), "x")

"""Conventions against independent records: live fvcore and Keras counts (tests/data), the
V1 paper's Table 2, and exact arithmetic on hand-built layers. The peer tools run live in
tests/nn/test_peers.py."""

from __future__ import annotations

import dataclasses
import json

import pytest

import flopcalc
from flopcalc.walk import count_layers as plain
from flopcalc.conventions import CONVENTIONS, FLOP_COUNTER, FVCORE, PAPER, count, get_convention
from flopcalc.spec import SpecError
from support import DATA, torchvision_v3, v1_counts, v2_counts

RECORD = json.loads((DATA / "torchvision_mobilenet_v2.json").read_text())
CASES = [(alpha, res, ops) for alpha, m in RECORD["models"].items() for res, ops in m["fvcore"].items()]


@pytest.mark.parametrize("alpha, resolution, ops", CASES, ids=[f"{a}-{r}" for a, r, _ in CASES])
def test_fvcore_convention_reproduces_fvcore_per_operator(alpha, resolution, ops):
    """Live fvcore 0.1.5 per-operator counts of torchvision's V2 (tools/make_torchvision_fixtures.py)."""
    a = plain("mobilenet_v2", float(alpha), int(resolution))
    of = lambda *kinds: [r for r in a.layers if r.kind in kinds]  # noqa: E731
    assert FVCORE.total(of("batchnorm")) == ops["batch_norm"]
    assert FVCORE.total(of("pool")) == ops["adaptive_avg_pool2d"]
    assert FVCORE.total(of("pointwise", "depthwise", "conv")) == ops["conv"]
    assert FVCORE.total(of("linear")) == ops["linear"]
    assert FVCORE.total(a.layers) == sum(ops.values())
    assert flopcalc.analyze("mobilenet_v2", float(alpha), int(resolution), convention="fvcore").total.macs == \
        sum(ops.values())


def test_paper_and_flop_counter():
    a = plain("mobilenet_v1")
    assert PAPER.total(a.layers) == v1_counts()[1]       # Table 1's layers summed by hand: 569M
    tv3 = torchvision_v3()["mobilenet_v3_large"]["0.75"]  # FlopCounterMode run live on torchvision's V3
    for res, flops in tv3["flop_counter"].items():
        f = flopcalc.analyze("mobilenet_v3_large", 0.75, int(res), convention="flop_counter")
        assert 2 * f.total.macs == flops and FLOP_COUNTER.total(f.layers) == flops
        assert f.total.params is None  # it counts no parameters
    assert all(c.description and c.ops_rule and c.params_rule for c in CONVENTIONS.values())


def test_paper_convention_is_the_v1_papers_table2():
    """MobileNets Table 2, "Resource per layer type": Conv 1x1 94.86% of Mult-Adds and 74.59% of
    parameters, Conv DW 3.06% / 1.06%, Conv 3x3 1.19% / 0.02%, Fully Connected 0.18% / 24.33%.
    The paper's 1.19% is a digit swap of 1.91%: the four shares add to 100% only with 1.91."""
    a = flopcalc.analyze("mobilenet_v1", convention="paper")
    share = lambda part, whole: round(100 * part / whole, 2)  # noqa: E731
    k, t = a.by_kind, a.total
    assert [share(k[n].macs, t.macs) for n in ("pointwise", "depthwise", "conv", "linear")] == \
        [94.86, 3.06, 1.91, 0.18]
    assert [share(k[n].params, t.params) for n in ("pointwise", "depthwise", "conv", "linear")] == \
        [74.59, 1.06, 0.02, 24.33]
    assert "batchnorm" not in {n for n, v in k.items() if v.params}  # folded into the convs


KERAS = json.loads((DATA / "keras_counts.json").read_text())
KERAS_MODELS = {"MobileNet": "mobilenet_v1", "MobileNetV2": "mobilenet_v2",
                "MobileNetV3Large": "mobilenet_v3_large", "MobileNetV3Small": "mobilenet_v3_small"}
KERAS_CASES = [c for c in KERAS["configs"] if c["model"] in KERAS_MODELS]


@pytest.mark.parametrize("case", KERAS_CASES, ids=lambda c: f"{c['model']}-{c['kwargs']}")
def test_keras_convention_is_keras_count_params(case):
    """Live keras.applications counts (tools/make_keras_fixtures.py, Keras 3.15.1 on torch)."""
    kw = case["kwargs"]
    model = KERAS_MODELS[case["model"]]
    h, w = kw["input_shape"][:2]
    a = flopcalc.analyze(model, kw["alpha"], (h, w), kw["classes"], convention="keras")
    assert a.total.params == case["count_params"]
    assert a.total.macs is None  # Keras reports no operation count
    # channel by channel: every conv's output width equals Keras' kernel
    convs = [r.spec.out_c for r in a.layers if r.kind in ("conv", "pointwise", "depthwise")]
    # Keras writes the classifier (V1, V3) and V3's 1280-wide layer as 1x1 convs: flopcalc's linears
    keras_convs = [shape[-1] * (shape[-2] if "dw" in name or "depthwise" in name.lower() else 1)
                   for name, shape in case["kernels"] if len(shape) == 4
                   and name not in ("conv_preds", "conv_2", "logits")]
    assert convs == keras_convs


def test_keras_rounding_differs_from_torchvision_where_keras_truncates_first():
    """At alpha 0.56 Keras' V2 gives 2,082,888 trainable parameters where torchvision's rule
    would give 2,130,056 (blocks of 8/16/32 channels against 16/24/40)."""
    case = next(c for c in KERAS_CASES if c["model"] == "MobileNetV2" and c["kwargs"]["alpha"] == 0.56)
    assert flopcalc.analyze("mobilenet_v2", 0.56).total.params == v2_counts(0.56)[0] == 2_130_056
    assert plain("mobilenet_v2", 0.56, rounding="keras").total.params == case["trainable"] == 2_082_888


def test_batch_scales_every_operation_count():
    """Every count grows with the batch, but for what ptflops averages over it: its module hooks'
    (the conv, linear and batch-norm layers and nn.ReLU6 here), while F.relu and the pool's
    F.adaptive_avg_pool2d it counts over the whole batch. Checked live in tests/nn/test_peers.py."""
    for name in CONVENTIONS:
        one = flopcalc.analyze("mobilenet_v2", 0.5, 96, convention=name)
        many = flopcalc.analyze("mobilenet_v2", 0.5, 96, batch=3, convention=name)
        assert many.total.params == one.total.params
        if name == "ptflops":
            pool = one.by_kind["pool"].macs  # V2's only function ptflops replaces (ReLU6 is F.hardtanh)
            assert many.total.macs == one.total.macs + 2 * pool
            continue
        assert many.total.macs == (None if one.total.macs is None else 3 * one.total.macs)


def test_counts_split_by_kind_and_by_cause_add_up():
    a = plain("mobilenet_v2", 0.75, 160)
    for conv in CONVENTIONS.values():
        c = count(a, conv)
        if c.total.macs is not None:
            assert sum(t.macs for t in c.by_kind.values()) == c.total.macs
            assert sum(sum(p[1].values()) for p in c.parts) == c.total.macs
        if c.total.params is not None:
            assert sum(t.params for t in c.by_kind.values()) == c.total.params
            assert sum(sum(p[0].values()) for p in c.parts) == c.total.params


def test_a_hand_built_layer_under_each_convention():
    """One conv with bias, one BN, one ReLU, one ReLU6, pooling and a linear, counted by hand."""
    from flopcalc.spec import Act, Activation, BatchNorm2d, Conv2d, GlobalAvgPool, Linear, Network
    net = Network("hand", 2, (("c", Conv2d(2, 4, 3, bias=True)), ("bn", BatchNorm2d(4)),
                              ("r", Activation(Act.RELU)), ("r6", Activation(Act.RELU6)),
                              ("pool", GlobalAvgPool()), ("fc", Linear(4, 3))))
    a = plain(net, resolution=5)                   # conv: 5x5 out; E = 4*5*5 = 100
    macs = 3 * 3 * 2 * 4 * 25 + 4 * 3              # 1800 + 12
    assert a.total.macs == macs
    got = {n: count(a, c) for n, c in CONVENTIONS.items()}
    assert got["fvcore"].total.macs == macs + 2 * 100 + 100               # BN 2/elem, pool 1/input elem
    # + biases, batch norm, ReLU counted twice, ReLU6, pool
    assert got["ptflops"].total.macs == macs + 100 + 3 + 2 * 100 + 2 * 100 + 100 + 100
    assert got["ptflops_aten"].total.macs == macs + 100 + 3
    assert got["thop"].total.macs == macs + 4 * 100
    assert got["torchinfo"].total.macs == macs + 100 + 3 + 8              # conv bias per element, fc bias, BN 2C
    params = (3 * 3 * 2 * 4 + 4) + 8 + (4 * 3 + 3)
    assert got["pytorch"].total.params == params
    assert got["paper"].total.params == params - 4 - 8 - 3
    assert got["keras"].total.params == params + 8                        # + moving mean, variance
    assert got["flop_counter"].reported == 2 * macs


def _branches_net(name: str):
    """The other branch of every rule: a conv without bias, batch norm without affine, the
    activations the first hand-built test leaves out, a depthwise conv with bias, a linear
    without bias."""
    from flopcalc.spec import Act, Activation, BatchNorm2d, Conv2d, GlobalAvgPool, Linear, Network
    return Network(name, 2, (("c", Conv2d(2, 4, 3, bias=False)), ("bn", BatchNorm2d(4, affine=False)),
                             ("hs", Activation(Act.HARDSWISH)), ("hsig", Activation(Act.HARDSIGMOID)),
                             ("silu", Activation(Act.SILU)), ("sig", Activation(Act.SIGMOID)),
                             ("dw", Conv2d(4, 4, 3, stride=2, groups=4, bias=True)),
                             ("pool", GlobalAvgPool()), ("fc", Linear(4, 5, bias=False))))


def test_every_rules_other_branch_on_a_hand_built_network():
    """Counted by hand from each tool's rule (its source, as the convention's text cites it): at
    6x6 the conv's map has E = 4*6*6 = 144 elements, the depthwise conv's (stride 2) 4*3*3 = 36."""
    a = plain(_branches_net("hand"), resolution=6)
    e, e_dw = 144, 36
    macs = 3 * 3 * 2 * 4 * 36 + 3 * 3 * 4 * 9 + 4 * 5            # conv 2592, depthwise 324, fc 20
    assert a.total.macs == macs
    got = {n: count(a, c) for n, c in CONVENTIONS.items()}
    # fvcore: non-affine batch norm 1 per element; adaptive pooling 1 per input element
    assert got["fvcore"].total.macs == macs + 1 * e + e_dw
    # ptflops: the depthwise bias once per output element, batch norm 1 (no affine), SiLU 1,
    # hard-swish, hard-sigmoid and sigmoid 0 (no rule), pooling 1 per input element
    assert got["ptflops"].total.macs == macs + e_dw + 1 * e + 1 * e + e_dw
    assert got["ptflops_aten"].total.macs == macs + e_dw
    assert got["thop"].total.macs == macs + 2 * e                          # 2 per element without affine
    assert got["torchinfo"].total.macs == macs + e_dw                       # no batch-norm parameters
    assert got["flop_counter"].reported == 2 * macs and got["flop_counter"].total.params is None
    params = 3 * 3 * 2 * 4 + (3 * 3 * 4 + 4) + 4 * 5                        # 72 + 40 + 20; batch norm none
    assert got["pytorch"].total.params == params
    assert got["paper"].total.params == params - 4
    assert got["keras"].total.params == params + 2 * 4                     # moving mean and variance only
    assert got["keras"].total.macs is None
    assert got["tfslim"].total.params == params                            # V2's table: no batch norm
    # V1's TF-Slim table: every checkpoint value, 3 per batch-norm channel, affine or not
    v1 = plain(_branches_net("mobilenet_v1"), resolution=6)
    assert count(v1, "tfslim").total.params == params + 3 * 4
    assert count(v1, "tfslim").total.macs == macs


def test_the_first_hand_built_network_under_tfslim():
    from flopcalc.spec import Act, Activation, BatchNorm2d, Conv2d, GlobalAvgPool, Linear, Network
    for name, bn_values in (("hand", 0), ("mobilenet_v1", 3 * 4)):  # V2's table, V1's (3 per channel)
        net = Network(name, 2, (("c", Conv2d(2, 4, 3, bias=True)), ("bn", BatchNorm2d(4)),
                                ("r", Activation(Act.RELU)), ("pool", GlobalAvgPool()), ("fc", Linear(4, 3))))
        c = count(plain(net, resolution=5), "tfslim")
        assert c.total.params == (3 * 3 * 2 * 4 + 4) + (4 * 3 + 3) + bn_values
        assert c.total.macs == 3 * 3 * 2 * 4 * 25 + 4 * 3


def test_unknown_convention_names_the_known_ones():
    with pytest.raises(SpecError, match=r"unknown convention 'tf'; known: pytorch, paper, tfslim, keras"):
        get_convention("tf")
    with pytest.raises(SpecError, match="unknown convention"):
        flopcalc.analyze("mobilenet_v1", convention="nope")


def _recorded(*layers):
    """An analysis of rows as a recorded module gives them (no spec tree): each (name, spec, input)."""
    from flopcalc.costs import layer_cost
    from flopcalc.walk import Analysis, LayerRow, totals
    rows = [LayerRow(name, *layer_cost(spec, x)[:1], spec, x, *layer_cost(spec, x)[1:]) for name, spec, x in layers]
    total, by_kind = totals(rows)
    return Analysis("recorded", {"batch": 1}, layers[0][2], tuple(rows), total, by_kind, None)


def test_a_recorded_models_norms_products_and_attention_by_hand():
    """fvcore charges layer norm 5 per element (4 without affine) and sees no attention; torch's
    FlopCounterMode on CPU counts no attention either (tests/nn/test_record.py runs both live); the
    default counts the attention products as a cause of their own, the paper convention a matmul's
    0 weights as 0."""
    from flopcalc.operations import Attention, MatMul, Normalization
    a = _recorded(("ln", Normalization("layer", 64), (10, 64)), ("ln0", Normalization("layer", 64, False), (10, 64)),
                  ("qk", MatMul((2, 16, 10)), (2, 10, 16)),
                  ("sdpa", Attention((1, 2, 10, 16), (1, 2, 10, 16)), (1, 2, 10, 16)))
    qk, sdpa = 2 * 10 * 10 * 16, 2 * (10 * 10 * 16 + 10 * 10 * 16)
    c = {n: count(a, n) for n in ("pytorch", "paper", "fvcore", "flop_counter", "keras")}
    assert c["pytorch"].total == flopcalc.Total(128, qk + sdpa)
    assert c["pytorch"].parts[0][0] == {"weights": 128} and c["pytorch"].parts[3][1] == {"attention": sdpa}
    assert c["paper"].total == flopcalc.Total(0, qk + sdpa)
    assert c["fvcore"].total.macs == 5 * 640 + 4 * 640 + qk
    assert c["flop_counter"].reported == 2 * qk
    assert c["keras"].total.macs is None and CONVENTIONS["keras"].count(a.layers[2]) == 0
    assert list(c["pytorch"].by_kind) == ["matmul", "attention", "norm"]  # the family's kinds' order, then these


def test_a_module_called_twice_has_its_parameters_counted_once():
    """A recorded conv with bias run a second time carries no parameters on its second row: no
    weights and no bias there, under every parameter rule."""
    from flopcalc.spec import Conv2d
    a = _recorded(("conv", Conv2d(4, 8, 3, bias=True), (4, 6, 6)), ("conv#2", Conv2d(4, 8, 3, bias=True), (4, 6, 6)))
    a = dataclasses.replace(a, layers=(a.layers[0], a.layers[1]._replace(params=0)))
    for name in ("pytorch", "paper", "fvcore", "thop", "keras"):
        parts = count(a, name).parts[1][0]
        assert sum(parts.values()) == 0 and all(v == 0 for v in parts.values()), (name, parts)
    assert count(a, "pytorch").parts[0][0] == {"weights": 9 * 4 * 8, "bias": 8}


def test_a_convention_names_itself_for_the_json():
    assert CONVENTIONS["fvcore"].ref() == {"name": "fvcore", "key": "fvcore_flops", "unit": "flops", "flops_per_mac": 1}
    assert CONVENTIONS["keras"].ref() == {"name": "keras", "key": "macs", "unit": None, "flops_per_mac": 1}
    assert CONVENTIONS["flop_counter"].ref()["flops_per_mac"] == 2


def test_counted_as_relabels_the_analysis_and_architecture_takes_a_convention():
    from flopcalc.conventions import architecture, counted_as
    base = plain("mobilenet_v2", 0.5, 96)
    thop = counted_as(base, CONVENTIONS["thop"])
    assert (thop.convention, thop.config["convention"]) == ("thop", "thop") and "convention" not in base.config
    assert [r.macs for r in thop.layers] == [r.macs for r in count(base, "thop").layers]
    assert counted_as(base, "pytorch") is base
    assert architecture(CONVENTIONS["tfslim"]) == (1001, "tfslim") and architecture("keras", 10) == (10, "keras")
    small = flopcalc.analyze("mobilenet_v2", 1.0, 32, convention="fvcore", small_input=True)
    assert small.layers[0].output_shape == (32, 32, 32)  # the stem at stride 1 for small images


def test_fvcore_sees_adaptive_pooling_but_not_a_mean_and_files_norms_as_norm():
    """fvcore has a handle for adaptive_avg_pool2d (1 per input element) but none for x.mean(); its
    layer-norm count is the cause reconcile calls norm."""
    from flopcalc.operations import Normalization
    from flopcalc.spec import GlobalAvgPool
    a = _recorded(("pool", GlobalAvgPool(), (8, 4, 4)), ("mean", GlobalAvgPool(reduction="mean"), (8, 4, 4)),
                  ("ln", Normalization("layer", 64), (10, 64)))
    c = count(a, "fvcore")
    assert c.parts[0][1] == {"pool": 128} and c.parts[1][1] == {} and c.parts[2][1] == {"norm": 5 * 640}


@pytest.mark.parametrize("math_path", [True, False])
def test_multi_query_attention_under_flop_counter_follows_the_installed_torch(monkeypatch, math_path):
    """Keys and values of one head broadcast to the queries' heads: torch 2.13 runs that on the CPU as its math
    path (two bmm, which FlopCounterMode and ptflops' aten backend count), 2.14 as its fused kernel (which they
    do not); measured on both, and live on the built hybrids in tests/nn/test_peers.py."""
    import flopcalc
    from flopcalc import capture
    monkeypatch.setattr(capture, "broadcast_heads_take_math_path", lambda: math_path)
    a = flopcalc.analyze("mobilenet_v4_hybrid_medium", resolution=96)
    attention = a.by_kind["attention"].macs
    assert attention == 4 * (4 * 36 * 9 * 128) + 4 * (4 * 9 * 9 * 128)
    for name, per in (("flop_counter", 2), ("ptflops_aten", 1)):
        c = flopcalc.analyze("mobilenet_v4_hybrid_medium", resolution=96, convention=name)
        assert c.by_kind["attention"].macs == (attention if math_path else 0), name
    for name in ("fvcore", "thop", "torchinfo", "calflops"):  # no tool's rule for it
        assert flopcalc.analyze("mobilenet_v4_hybrid_medium", resolution=96, convention=name).by_kind[
            "attention"].macs == 0, name

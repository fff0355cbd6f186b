"""The zoo against the papers' tables, the issue's golden totals and torchvision's counts."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from flopcalc import analyze
from flopcalc.walk import flatten
from flopcalc.spec import InvertedResidual
from flopcalc.zoo import get_spec
from support import DATA, v1_counts

TORCHVISION = json.loads((DATA / "torchvision_mobilenet_v2.json").read_text())

KERAS = json.loads((DATA / "keras_counts.json").read_text())["configs"]


def _tv2(alpha: str) -> tuple[str, float, int, int]:
    """torchvision's V2 at 224: sum(p.numel()) and fvcore's conv + linear (tests/data, recorded live)."""
    m = TORCHVISION["models"][alpha]
    return "mobilenet_v2", float(alpha), m["params"], m["fvcore"]["224"]["conv"] + m["fvcore"]["224"]["linear"]


# Totals at 224 with 1000 classes: V2's from torchvision's live records; V1's parameters are Keras'
# trainable weights (its MobileNet at alpha 1 has torchvision's widths and layers; its other
# weights are the batch norms' moving statistics), its multiply-adds Table 1's layers summed by hand.
GOLDEN = [
    _tv2("1.0"), _tv2("0.75"),
    ("mobilenet_v1", 1.0,
     next(c["trainable"] for c in KERAS if c["model"] == "MobileNet" and c["kwargs"]["alpha"] == 1.0
          and c["kwargs"]["classes"] == 1000), v1_counts()[1]),
]
assert GOLDEN[2][3] == 568_740_352  # the paper's 569M


@pytest.mark.parametrize("model, alpha, params, macs", GOLDEN)
def test_golden_totals(model, alpha, params, macs):
    a = analyze(model, alpha=alpha, resolution=224, num_classes=1000)
    assert (a.total.params, a.total.macs) == (params, macs)


@pytest.mark.parametrize("alpha", sorted(TORCHVISION["models"], key=float))
def test_v2_equals_torchvision_and_fvcore(alpha):
    """Live torchvision 0.29.1 + fvcore 0.1.5 figures, recorded by tools/make_torchvision_fixtures.py."""
    tv = TORCHVISION["models"][alpha]
    for res, ops in tv["fvcore"].items():
        a = analyze("mobilenet_v2", alpha=float(alpha), resolution=int(res))
        assert a.total.params == tv["params"]
        assert a.total.macs == ops["conv"] + ops["linear"], (alpha, res)


# MobileNets (Howard et al. 2017), Table 1, transcribed row by row as
# (filter shape K x K x M_per_group x N, stride, input size); every dw row has M_per_group 1.
# The last dw row is printed "s2" in the paper; the network keeps 7x7, so stride 1.
V1_TABLE1 = [
    (3, 3, 32, 2, 224),
    (3, 1, 32, 1, 112), (1, 32, 64, 1, 112),
    (3, 1, 64, 2, 112), (1, 64, 128, 1, 56),
    (3, 1, 128, 1, 56), (1, 128, 128, 1, 56),
    (3, 1, 128, 2, 56), (1, 128, 256, 1, 28),
    (3, 1, 256, 1, 28), (1, 256, 256, 1, 28),
    (3, 1, 256, 2, 28), (1, 256, 512, 1, 14),
    *[(3, 1, 512, 1, 14), (1, 512, 512, 1, 14)] * 5,
    (3, 1, 512, 2, 14), (1, 512, 1024, 1, 7),
    (3, 1, 1024, 1, 7), (1, 1024, 1024, 1, 7),
]


def test_v1_matches_paper_table1():
    a = analyze("mobilenet_v1")
    convs = [r for r in a.layers if r.kind in ("conv", "depthwise", "pointwise")]
    assert len(convs) == len(V1_TABLE1)
    for row, (k, m, n, s, d_in) in zip(convs, V1_TABLE1):
        d_out = d_in // s
        assert row.input_shape[1:] == (d_in, d_in), row.name
        assert row.output_shape[1:] == (d_out, d_out), row.name
        assert row.macs == k * k * m * n * d_out * d_out, row.name
    fc = a.layer("classifier.1")
    assert fc.macs == 1024 * 1000
    assert a.total.macs == sum(k * k * m * n * (d // s) ** 2 for k, m, n, s, d in V1_TABLE1) + 1024 * 1000


def test_v1_breakdown_matches_paper_table2():
    """Table 2: Conv 1x1 94.86% / 74.59%, Conv DW 3.06% / 1.06%, Conv 3x3 1.19% / 0.02%,
    FC 0.18% / 24.33% of Mult-Adds / parameters. The paper's parameter shares count
    weights only (no biases, no batch norm). Its 1.19% for the first conv is a digit swap:
    the four shares must add to 100%, and 10,838,016 / 568,740,352 is 1.91%."""
    a = analyze("mobilenet_v1")
    k = a.by_kind
    weights = {name: t.params for name, t in k.items() if name in ("pointwise", "depthwise", "conv")}
    weights["linear"] = k["linear"].params - 1000  # less the classifier's biases
    all_weights = sum(weights.values())
    share = lambda part, whole: round(100 * part / whole, 2)  # noqa: E731
    assert share(k["pointwise"].macs, a.total.macs) == 94.86
    assert share(k["depthwise"].macs, a.total.macs) == 3.06
    assert share(k["conv"].macs, a.total.macs) == 1.91
    assert share(k["linear"].macs, a.total.macs) == 0.18
    assert [share(weights[n], all_weights) for n in ("pointwise", "depthwise", "conv", "linear")] == \
        [74.59, 1.06, 0.02, 24.33]


# MobileNetV2 (Sandler et al. 2018), Table 2: the input (H = W, C) of each row.
V2_TABLE2_INPUTS = [(224, 3), (112, 32), (112, 16), (56, 24), (28, 32), (14, 64), (14, 96),
                    (7, 160), (7, 320), (7, 1280)]


def test_v2_matches_paper_table2():
    a = analyze("mobilenet_v2")
    # first layer of the stem, of each stage's first block, of the last conv, the pool
    firsts = ["features.0.0", "features.1.conv.0.0", "features.2.conv.0.0", "features.4.conv.0.0",
              "features.7.conv.0.0", "features.11.conv.0.0", "features.14.conv.0.0",
              "features.17.conv.0.0", "features.18.0", "avgpool"]
    for name, (d, c) in zip(firsts, V2_TABLE2_INPUTS):
        assert a.layer(name).input_shape == (c, d, d), name
    assert a.layer("classifier.1").input_shape == (1280,)


def test_v2_block_structure():
    spec = get_spec("mobilenet_v2")
    blocks = [b for _, b in spec.children()[0][1].children() if isinstance(b, InvertedResidual)]
    assert len(blocks) == 17  # sum of n in Table 2
    assert [b.residual for b in blocks].count(True) == 10
    first = {name: layer for name, layer, *_ in flatten(blocks[0])}
    assert blocks[0].expand_ratio == 1 and "conv.0.0" in first and first["conv.0.0"].groups == 16 * 2
    names = [n for n, *_ in flatten(spec)]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("alpha, last", [(0.35, 1280), (1.0, 1280), (1.3, 1664), (1.4, 1792)])
def test_v2_last_conv_width(alpha, last):
    assert analyze("mobilenet_v2", alpha=alpha).layer("features.18.0").output_shape[0] == last


@given(st.sampled_from(["mobilenet_v1", "mobilenet_v2"]), st.floats(0.05, 3.0),
       st.integers(1, 512), st.integers(1, 512))
def test_params_do_not_depend_on_resolution(model, alpha, r1, r2):
    assert analyze(model, alpha, r1).total.params == analyze(model, alpha, r2).total.params


@given(st.sampled_from(["mobilenet_v1", "mobilenet_v2"]), st.floats(0.05, 3.0), st.floats(0.05, 3.0),
       st.integers(1, 400), st.integers(1, 400))
def test_macs_grow_with_alpha_and_resolution(model, a1, a2, r1, r2):
    (a1, a2), (r1, r2) = sorted((a1, a2)), sorted((r1, r2))
    assert analyze(model, a1, r1).total.macs <= analyze(model, a2, r1).total.macs
    assert analyze(model, a1, r1).total.macs <= analyze(model, a1, r2).total.macs
    assert analyze(model, a1, r1).total.params <= analyze(model, a2, r1).total.params


@given(st.sampled_from(["mobilenet_v1", "mobilenet_v2"]), st.floats(0.05, 3.0), st.integers(1, 400),
       st.integers(1, 5000))
def test_layers_add_up_to_totals(model, alpha, res, classes):
    a = analyze(model, alpha, res, classes)
    assert sum(r.params for r in a.layers) == a.total.params
    assert sum(r.macs for r in a.layers) == a.total.macs
    assert sum(t.params for t in a.by_kind.values()) == a.total.params
    assert sum(t.macs for t in a.by_kind.values()) == a.total.macs
    assert a.layers[-1].output_shape == (classes,)


def test_width_rule_is_injected():
    """TF-Slim's V1 rounds by truncation, max(int(c * alpha), 8): the same table, another rule."""
    from flopcalc.family import WidthRule, build_network
    from flopcalc.zoo import MOBILENET_V1
    rule = WidthRule("trunc", "max(int(c * alpha), 8)", lambda f, c, a, role: max(int(c * a), 8))
    spec = build_network(MOBILENET_V1, 0.75, 1000, rule)
    a = analyze(spec)
    assert a.layer("features.0.0").output_shape[0] == 24
    assert a.layer("features.13.conv.1.0").output_shape[0] == 768
    assert a.layer("features.1.conv.1.0").output_shape[0] == 48


def test_names_and_default_widths_of_zoo_models_and_spec_files():
    from dataclasses import replace
    from flopcalc.zoo import MODELS, alpha_or_default, model_name
    mine = replace(MODELS["mobilenet_v2"].family, name="mine", alpha=0.5)   # a spec file's family
    assert model_name("mobilenet_v2") == "mobilenet_v2" and model_name(mine) == "mine"
    assert alpha_or_default(None, None) == 1.0 and alpha_or_default(mine, None) == 0.5
    assert alpha_or_default("mobilenet_v2", None) == 1.0 and alpha_or_default(mine, 0.75) == 0.75


def test_a_width_rule_hands_its_functions_what_they_need():
    """The rule protocol: a custom channels function sees the role ("block" for an expanded width
    given as exp), a custom expansion function gets the family, the widths and alpha."""
    from flopcalc.family import WidthRule
    from flopcalc.zoo import MODELS
    f = MODELS["mobilenet_v3_large"].family
    seen = []
    rule = WidthRule("probe", "records its calls", channels=lambda fam, c, a, role: seen.append((fam, c, a, role)) or 7)
    assert rule.expansion(f, 72, 24, 16, 0.5) == 7 and seen == [(f, 72, 0.5, "block")]
    rule = WidthRule("probe", "records its calls", expansion=lambda *args: seen.append(args) or 9)
    assert rule.expansion(f, 72, 24, 16, 0.5) == 9 and seen[-1] == (f, 72, 24, 16, 0.5)
    assert repr(rule) == "WidthRule('probe')"


def test_zoo_refusals_and_rules_word_for_word():
    from flopcalc.spec import SpecError
    from flopcalc.zoo import MODELS, check_classes, check_model, get_spec, width_rule, WIDTH_RULES
    with pytest.raises(SpecError, match=r"^unknown model 3; available: mobilenet_v1, mobilenet_v2, mobilenet_v3_large, "
                                        r"mobilenet_v3_small, efficientnet_b0, efficientnet_b1, efficientnet_b2, "
                                        r"efficientnet_b3, efficientnet_b4, efficientnet_b5, efficientnet_b6, "
                                        r"efficientnet_b7, mnasnet, mobilenet_v4_conv_small, mobilenet_v4_conv_medium, "
                                        r"mobilenet_v4_conv_large, mobilenet_v4_hybrid_medium, "
                                        r"mobilenet_v4_hybrid_large, or a spec file \(\.toml\)$"):
        check_model(3)
    for bad in (0, -2, 2.0, True):
        with pytest.raises(SpecError, match=f"^classes must be an integer >= 1, got {bad!r}$"):
            check_classes(bad)
    with pytest.raises(SpecError, match=r"^unknown channel rounding 'nope' for mobilenet_v1; available: "
                                        r"torchvision, tfslim, keras$"):
        width_rule(MODELS["mobilenet_v1"].family, "nope")
    assert width_rule(MODELS["mobilenet_v1"].family, "tfslim") is WIDTH_RULES["mobilenet_v1"]["tfslim"]
    # TF-Slim's V1 keeps at least 8 channels: at alpha 0.1 the stem's 32 * 0.1 = 3.2 becomes 8
    assert get_spec("mobilenet_v1", 0.1, rounding="tfslim").items[0][1].items[0][1].out_c == 8
    # small_input is off unless asked: the stem keeps its stride 2
    assert get_spec("mobilenet_v2").items[0][1].items[0][1].stride == 2
    assert get_spec("mobilenet_v2", small_input=True).items[0][1].items[0][1].stride == 1


def test_a_model_that_is_not_a_name_is_refused_not_looked_up():
    from flopcalc.spec import SpecError
    from flopcalc.zoo import check_model
    with pytest.raises(SpecError, match=r"^unknown model \['mobilenet_v2'\]; available:"):
        check_model(["mobilenet_v2"])  # unhashable: never a dictionary key

"""The family builder (flopcalc/family.py): a Family's table turned into a network, written out here
by hand from the rules the spec-file format documents (docs/spec-files.md), for every option: the
width rule's divisor, t expansions rounded to the nearest integer or with the width rule, exp
expansions, squeeze-and-excitation of the expanded or the input width with divisors 8, 4 and 1,
residuals forced off or impossible, a head conv given as a width or a multiple, a hidden layer
scaled always, up or never, small inputs and the full-conv variant."""

from __future__ import annotations

import pytest

from flopcalc.family import SE, Family, Head, Stage, Stem, WidthRule, build_network
from flopcalc.spec import (Act, Activation, ConvBNAct, DepthwiseSeparable, Dropout, GlobalAvgPool, InvertedResidual,
                           Linear, MBConv, Network, Norm, Sequential, SpecError, SqueezeExcite)

NORM = Norm(1e-3, 0.01)


def _net(name, features, classifier, in_c=3):
    return Network(name, in_c, (("features", Sequential(tuple((str(i), b) for i, b in enumerate(features)))),
                                ("avgpool", GlobalAvgPool()),
                                ("classifier", Sequential(tuple((str(i), b) for i, b in enumerate(classifier))))))


FAMILY = Family(
    "probe", Stem(c=16, k=3, s=2, act=Act.HARDSWISH),
    (Stage("depthwise_separable", 24, n=1, s=2, k=5, act=Act.RELU),
     Stage("inverted_residual", 24, n=2, s=1, k=3, t=2.5, act=Act.RELU6),
     Stage("mbconv", 40, n=1, s=2, k=3, exp=100, se=True, act=Act.SILU),
     Stage("mbconv", 40, n=1, s=1, k=5, t=3, se=True, act=Act.HARDSWISH, residual=False)),
    Head(conv=120, conv_scale="never", conv_act=Act.SILU, hidden=200, hidden_scale="up", hidden_act=Act.RELU,
         dropout=0.3),
    divisor=4, se=SE(reduction=4, of="input", divisor=1, act=Act.SILU, gate=Act.SIGMOID), norm=NORM)


def test_a_family_at_width_half_by_hand():
    """alpha 0.5, divisor 4: make_divisible(c * 0.5, 4) = 8, 12, 12, 20; the t = 2.5 expansion of 12
    is round(30) = 30; exp = 100 scales as a width: 52 (make_divisible(50, 4)); t = 3 on 20 is 60;
    SE squeezes the block's input // 4 with divisor 1: 12 // 4 = 3, 20 // 4 = 5; the second mbconv
    has residual = false; the head conv never scales (120), the hidden layer only up (200)."""
    got = build_network(FAMILY, 0.5, 10)
    want = _net("probe", [
        ConvBNAct(3, 8, 3, 2, act=Act.HARDSWISH, norm=NORM),
        DepthwiseSeparable(8, 12, 2, 5, Act.RELU, norm=NORM),
        InvertedResidual(12, 12, 1, 2.5, 3, Act.RELU6, norm=NORM),
        InvertedResidual(12, 12, 1, 2.5, 3, Act.RELU6, norm=NORM),
        MBConv(12, 52, 20, 3, 2, Act.SILU, SqueezeExcite(52, 3, Act.SILU, Act.SIGMOID), norm=NORM),
        MBConv(20, 60, 20, 5, 1, Act.HARDSWISH, SqueezeExcite(60, 5, Act.SILU, Act.SIGMOID), norm=NORM, skip=False),
        ConvBNAct(20, 120, 1, act=Act.SILU, norm=NORM),
    ], [Linear(120, 200), Activation(Act.RELU), Dropout(0.3), Linear(200, 10)])
    assert got == want


def test_the_same_family_at_width_two_small_and_full_conv():
    """alpha 2: 32, 48, 48, 80; t = 2.5 on 48 is 120; exp 100 -> 200; t = 3 on 80 is 240; the hidden
    layer scales up (400), the head conv still not. Small input: the stem and the first strided
    stage (the depthwise separable row) run at stride 1, the later stride 2 stays. full_conv reaches
    every block."""
    got = build_network(FAMILY, 2.0, 7, small_input=True, full_conv=True)
    want = _net("probe", [
        ConvBNAct(3, 32, 3, 1, act=Act.HARDSWISH, norm=NORM),
        DepthwiseSeparable(32, 48, 1, 5, Act.RELU, full_conv=True, norm=NORM),
        InvertedResidual(48, 48, 1, 2.5, 3, Act.RELU6, full_conv=True, norm=NORM),
        InvertedResidual(48, 48, 1, 2.5, 3, Act.RELU6, full_conv=True, norm=NORM),
        MBConv(48, 200, 80, 3, 2, Act.SILU, SqueezeExcite(200, 12, Act.SILU, Act.SIGMOID), full_conv=True, norm=NORM),
        MBConv(80, 240, 80, 5, 1, Act.HARDSWISH, SqueezeExcite(240, 20, Act.SILU, Act.SIGMOID), full_conv=True,
               norm=NORM, skip=False),
        ConvBNAct(80, 120, 1, act=Act.SILU, norm=NORM),
    ], [Linear(120, 400), Activation(Act.RELU), Dropout(0.3), Linear(400, 7)])
    assert got == want


@pytest.mark.parametrize("se, squeezes", [
    (SE(reduction=4, of="expanded", divisor=8), (16, 16)),   # make_divisible(52 // 4 = 13, 8) = 16; 60 // 4 = 15 -> 16
    (SE(reduction=4, of="expanded", divisor=4), (12, 16)),   # int(13 + 2) // 4 * 4 = 12 (>= 0.9 * 13); 15 -> 16
    (SE(reduction=8, of="expanded", divisor=2), (6, 8)),     # 52 // 8 = 6; 60 // 8 = 7 -> 8
    (SE(reduction=16, of="input", divisor=1), (1, 1)),       # 12 // 16 = 0 and 20 // 16 = 1: at least 1
])
def test_squeeze_widths(se, squeezes):
    from dataclasses import replace
    net = build_network(replace(FAMILY, se=se), 0.5, 10)
    blocks = [b for _, b in net.items[0][1].items if isinstance(b, MBConv)]
    assert tuple(b.se.squeeze for b in blocks) == squeezes


def test_expansions_rounded_as_widths_and_a_head_given_as_a_multiple():
    """round_expansion: t = 2.5 on 12 gives make_divisible(30, 4) = 32 for an mbconv's t (an
    inverted residual keeps round(30)); conv_expand = 6 makes the head 6 x its input; hidden
    "always" scales with alpha (200 -> 100)."""
    from dataclasses import replace
    f = replace(FAMILY, round_expansion=True,
                stages=FAMILY.stages[:1] + (Stage("mbconv", 24, n=1, s=1, k=3, t=2.5, act=Act.RELU6),),
                head=Head(conv_expand=6, hidden=200, hidden_scale="always"))
    net = build_network(f, 0.5, 10)
    features = [b for _, b in net.items[0][1].items]
    assert features[2] == MBConv(12, 32, 12, 3, 1, Act.RELU6, None, norm=NORM)
    assert features[3] == ConvBNAct(12, 72, 1, act=Act.RELU6, norm=NORM)
    assert net.items[2][1].items[0][1] == Linear(72, 100)


def test_a_divisor_of_one_and_the_rule_defaults():
    """Without a custom function a rule is make_divisible(c * alpha, the family's divisor) and SE
    squeezes with the family's SE divisor; divisor 1 keeps exact widths."""
    from dataclasses import replace
    rule = WidthRule("plain", "make_divisible")
    f = replace(FAMILY, divisor=1)
    assert rule.channels(f, 37, 0.5, "block") == 19  # make_divisible(18.5, 1) = int(18.5 + 1/2): half up
    assert rule.channels(FAMILY, 37, 0.5, "block") == 20  # divisor 4: 18.5 -> 20
    assert rule.squeeze(replace(f, se=SE(reduction=4, divisor=1)), 10) == 2
    assert rule.squeeze(replace(f, se=SE(reduction=4, divisor=2)), 10) == 2  # make_divisible(2, 2)
    custom = WidthRule("c", "custom", squeeze=lambda fam, base: (fam.name, base))
    assert custom.squeeze(FAMILY, 10) == ("probe", 10)


@pytest.mark.parametrize("residual, stride, c_out, words", [
    (True, 2, 24, "has stride 2 and 16 -> 24 channels"),
    (True, 1, 24, "has stride 1 and 16 -> 24 channels"),
    (True, 2, 16, "has stride 2 and 16 -> 16 channels"),
])
def test_an_impossible_residual_is_refused(residual, stride, c_out, words):
    f = Family("r", Stem(16), (Stage("inverted_residual", c_out, s=stride, t=6, residual=residual),), Head())
    with pytest.raises(SpecError, match="a residual needs stride 1 and equal input and output widths; this "
                                        f"inverted_residual block {words}"):
        build_network(f, 1.0, 10)
    ok = Family("r", Stem(16), (Stage("inverted_residual", 16, s=1, t=6, residual=True),), Head())
    assert build_network(ok, 1.0, 10).items[0][1].items[1][1].skip is True


def test_widths_that_round_to_nothing_are_refused():
    rule = WidthRule("trunc", "int(c * alpha)", channels=lambda f, c, a, role: int(c * a))
    f = Family("w", Stem(16), (Stage("depthwise_separable", 24),), Head())
    with pytest.raises(SpecError, match=r"^alpha 0.01 leaves 16 \* alpha = 0.16 channels, which the trunc width rule "
                                        r"\(int\(c \* alpha\)\) rounds to 0; use a larger alpha$"):
        build_network(f, 0.01, 10, rule)
    assert build_network(f, 1 / 16, 10, rule).items[0][1].items[0][1].out_c == 1  # one channel is enough
    with pytest.raises(SpecError, match=r"^alpha 1e\+308 is too large: 16 \* alpha channels is not a finite number; "
                                        r"use a finite alpha > 0$"):
        build_network(f, 1e308, 10)


def test_with_alpha_changes_only_the_width():
    from dataclasses import replace
    from flopcalc.family import with_alpha
    assert with_alpha(FAMILY, 0.75) == replace(FAMILY, alpha=0.75) and FAMILY.alpha == 1.0


def test_rows_keep_their_own_activations_and_residual_and_a_t_expansion_rounds_with_the_divisor():
    """Non-default activations reach the blocks (a depthwise-separable row in hard-swish, an
    inverted residual in ReLU, no residual); round_expansion rounds t * c_in with the family's
    divisor: 1.5 * 12 = 18 -> make_divisible(18, 4) = 20 (with 8 it would be 24)."""
    from dataclasses import replace
    f = replace(FAMILY, round_expansion=True, stages=(
        Stage("depthwise_separable", 24, n=1, s=1, k=3, act=Act.HARDSWISH),
        Stage("inverted_residual", 24, n=1, s=1, k=3, t=2, act=Act.RELU, residual=False),
        Stage("mbconv", 24, n=1, s=1, k=3, t=1.5, act=Act.RELU6)), head=Head())
    blocks = [b for _, b in build_network(f, 0.5, 10).items[0][1].items]
    assert blocks[1] == DepthwiseSeparable(8, 12, 1, 3, Act.HARDSWISH, norm=NORM)
    assert blocks[2] == InvertedResidual(12, 12, 1, 2, 3, Act.RELU, norm=NORM, skip=False)
    assert blocks[3] == MBConv(12, 20, 12, 3, 1, Act.RELU6, None, norm=NORM)


def test_small_input_adapts_the_first_strided_stage_even_after_unstrided_ones():
    """Small images: the stem and the first row whose stride is 2 run at stride 1, whatever comes
    before it; the rows after keep theirs."""
    f = Family("s", Stem(16), (Stage("depthwise_separable", 16, s=1), Stage("depthwise_separable", 24, s=2),
                               Stage("depthwise_separable", 32, s=2)), Head())
    blocks = [b for _, b in build_network(f, 1.0, 10, small_input=True).items[0][1].items]
    assert [b.stride for b in blocks] == [1, 1, 1, 2]


def test_the_head_conv_is_scaled_in_the_head_role():
    seen = []

    def rule(f, c, a, role):
        seen.append(role)
        return int(c * a)
    from dataclasses import replace
    build_network(replace(FAMILY, head=Head(conv=120)), 1.0, 10, WidthRule("probe", "records roles", channels=rule))
    assert seen[0] == "stem" and set(seen[1:-1]) == {"block"} and seen[-1] == "head"  # rows, exp, then head

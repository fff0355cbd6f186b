"""reconcile: every convention's difference from the default, by cause, adding up exactly."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings, strategies as st

from flopcalc.conventions import CONVENTIONS
from flopcalc.reconcile import reconcile
from support import DATA, v1_counts


@settings(max_examples=25, deadline=None)
@given(model=st.sampled_from(["mobilenet_v1", "mobilenet_v2"]),
       alpha=st.floats(0.1, 2.0), resolution=st.integers(8, 260), classes=st.sampled_from([None, 10, 1001]))
def test_an_explicit_class_count_holds_for_every_convention(model, alpha, resolution, classes):
    r = reconcile(model, alpha, resolution, classes)
    for line in r.lines:
        if classes is not None:  # an explicit --classes holds for every convention: no classes step
            assert line.num_classes == classes
            assert line.ops_causes is None or line.ops_causes["classes"] == 0
            assert line.params_causes is None or line.params_causes["classes"] == 0
        else:
            assert line.num_classes == (1001 if line.convention.name == "tfslim" else 1000)


TV2 = json.loads((DATA / "torchvision_mobilenet_v2.json").read_text())["models"]
TV2_CASES = [(a, r) for a, m in TV2.items() for r in m["fvcore"]]


@pytest.mark.parametrize("alpha, res", TV2_CASES, ids=[f"{a}-{r}" for a, r in TV2_CASES])
def test_every_line_against_the_live_records(alpha, res):
    """Each convention's line for torchvision's V2, against fvcore's per-operator counts and
    torchvision's parameters run live (tests/data), combined by each tool's documented rule: batch
    norm's output elements are fvcore's batch-norm flops / 2, its channels 2C parameters / 2."""
    m, ops = TV2[alpha], TV2[alpha]["fvcore"][res]
    macs = ops["conv"] + ops["linear"]
    bn_channels = sum(shape[0] for key, shape in m["state_dict"] if key.endswith("running_mean"))
    lines = {l.convention.name: l for l in reconcile("mobilenet_v2", float(alpha), int(res)).lines}
    assert lines["pytorch"].params == m["params"] and lines["pytorch"].reported == macs
    assert lines["paper"].params == m["params"] - 2 * bn_channels - 1000   # no batch norm, no bias
    assert lines["fvcore"].reported == sum(ops.values())
    assert lines["flop_counter"].reported == 2 * macs
    assert lines["thop"].reported == macs + 2 * ops["batch_norm"]          # 4 per element
    assert lines["torchinfo"].reported == macs + 1000 + 2 * bn_channels     # fc bias, gamma and beta
    assert lines["ptflops_aten"].reported == macs + 1000
    assert lines["keras"].params == m["params"] + 2 * bn_channels           # + moving mean and variance
    for line in lines.values():  # and each line's causes add up to its difference
        if line.ops_causes is not None:
            assert sum(line.ops_causes.values()) == line.reported - macs
        if line.params_causes is not None:
            assert sum(line.params_causes.values()) == line.params - m["params"]


def test_v2_differences_are_the_live_tools_components():
    """mobilenet_v2 1.0 at 224: fvcore's extra 13,356,224 batch-norm and 62,720 pooling flops are
    its live per-operator counts of torchvision's V2 (tests/data/torchvision_mobilenet_v2.json)."""
    lines = {l.convention.name: l for l in reconcile("mobilenet_v2").lines}
    ops = TV2["1.0"]["fvcore"]["224"]
    bn_values = 2 * sum(shape[0] for key, shape in TV2["1.0"]["state_dict"] if key.endswith("running_mean"))
    assert lines["fvcore"].ops_causes["batchnorm"] == ops["batch_norm"] == 13_356_224
    assert lines["fvcore"].ops_causes["pool"] == ops["adaptive_avg_pool2d"] == 62_720
    assert lines["flop_counter"].ops_causes["flops"] == ops["conv"] + ops["linear"]
    # ReLU6 once per element: it follows every batch norm but the projections' (the linear
    # bottlenecks, Table 2's c x h x w outputs)
    projections = (16 * 112**2 + 2 * 24 * 56**2 + 3 * 32 * 28**2 + 4 * 64 * 14**2 + 3 * 96 * 14**2
                   + 3 * 160 * 7**2 + 320 * 7**2)
    assert lines["ptflops"].ops_causes["activation"] == ops["batch_norm"] // 2 - projections == 6_105_792
    assert lines["ptflops"].ops_causes["bias"] == 1_000                  # the classifier's 1000 biases
    assert lines["thop"].ops_causes["batchnorm"] == 2 * ops["batch_norm"]
    assert lines["torchinfo"].ops_causes["batchnorm"] == bn_values == 34_112  # its 2C batch-norm parameters
    assert lines["tfslim"].ops_causes["classes"] == 1_280                 # 1001 classes: 1280 more weights
    assert lines["tfslim"].params_causes == {"classes": 1_281, "rounding": 0, "weights": 0, "bias": 0,
                                            "batchnorm": -bn_values, "activation": 0, "pool": 0, "add": 0,
                                            "norm": 0, "attention": 0, "other": 0, "sizes": 0}
    assert lines["keras"].params_causes["batchnorm"] == bn_values         # moving mean and variance
    assert lines["keras"].ops_causes is None and lines["flop_counter"].params_causes is None


def test_channel_rounding_is_its_own_cause():
    """V1 at alpha 0.6: TF-Slim truncates (19, 38, 76, ...) where torchvision rounds to 8s."""
    lines = {l.convention.name: l for l in reconcile("mobilenet_v1", 0.6, 171).lines}
    # Table 1 by hand with each rule's widths, 1001 classes: TF-Slim's max(int(c * alpha), 8), Keras'
    # int(c * alpha), torchvision's make_divisible
    slim = v1_counts(0.6, 171, 1001, width=lambda v: max(int(v), 8))
    keras = v1_counts(0.6, 171, 1000, width=int)
    torchvision = v1_counts(0.6, 171, 1001), v1_counts(0.6, 171, 1000)
    assert lines["tfslim"].ops_causes["rounding"] == slim[1] - torchvision[0][1] < 0
    assert lines["tfslim"].params_causes["rounding"] == slim[0] - torchvision[0][0]
    assert lines["keras"].params_causes["rounding"] == keras[0] - torchvision[1][0] > 0


def test_reconcile_cli_plain_and_json(cli):
    code, out, _ = cli("reconcile", "mobilenet_v2")
    assert code == 0
    ops = TV2["1.0"]["fvcore"]["224"]  # fvcore live on torchvision's V2: thop adds 4 per batch-norm element
    thop, flops = ops["conv"] + ops["linear"] + 2 * ops["batch_norm"], 2 * (ops["conv"] + ops["linear"])
    assert f"thop          MACs       {thop:,}" in out and f"flop_counter  flops      {flops:,}" in out
    doc = json.loads(cli("reconcile", "mobilenet_v1", "--alpha", "0.75", "--format", "json")[1])
    assert [c["name"] for c in doc["conventions"]] == list(CONVENTIONS)
    for c in doc["conventions"]:
        if c["ops_difference"] is not None:
            assert sum(c["ops_difference"].values()) == c["reported"] - doc["conventions"][0]["reported"]


def test_conventions_command_lists_every_rule(cli):
    code, out, _ = cli("conventions")
    assert code == 0
    flat = " ".join(out.split())  # the rules are wrapped to the terminal
    for c in CONVENTIONS.values():
        assert f"{c.name}: {c.source}" in out and " ".join(c.ops_rule.split()) in flat
    doc = json.loads(cli("conventions", "--format", "json")[1])
    assert {c["name"] for c in doc["conventions"]} == set(CONVENTIONS)


@pytest.mark.parametrize("argv, words", [
    (["table", "mobilenet_v2", "--convention", "tensorflow"], ["'tensorflow'", "known: pytorch, paper"]),
    (["reconcile", "mobilenet_v2", "--alpha", "-1"], ["'-1'", "> 0"]),
    (["sweep", "mobilenet_v1", "--alpha", "0.5,x,1"], ["element 'x' of --alpha list '0.5,x,1'", "> 0"]),
    (["sweep", "mobilenet_v1", "--resolution", "96,0"], ["element '0' of --resolution list", "HEIGHTxWIDTH"]),
    (["sweep", "mobilenet_v1", "--rho", "1,0.001"], ["element '0.001' of --rho list", "round(224 * rho)"]),
    (["sweep", "mobilenet_v1", "--convention", "x"], ["'x'", "known:"]),
])
def test_bad_input_one_line(cli, argv, words):
    code, out, err = cli(*argv)
    assert code == 2 and out == "" and err.count("\n") == 1
    for w in words:
        assert w in err, err


def test_a_recorded_models_lines_are_each_conventions_own_count():
    """reconcile of an analysis without a zoo architecture (a recorded module, here a hand-built
    network): no classes or rounding step, every cause what the convention counts for it. By hand:
    conv 3 -> 8 with bias on 6x6 (E = 288), batch norm, ReLU, pool, linear 8 -> 5."""
    from flopcalc.reconcile import reconcile_analysis
    from flopcalc.spec import Act, Activation, BatchNorm2d, Conv2d, GlobalAvgPool, Linear, Network
    from flopcalc.walk import count_layers
    net = Network("rec", 3, (("c", Conv2d(3, 8, 3, bias=True)), ("bn", BatchNorm2d(8)), ("r", Activation(Act.RELU)),
                             ("pool", GlobalAvgPool()), ("fc", Linear(8, 5))))
    base = count_layers(net, resolution=6)
    macs, params = 27 * 8 * 36 + 40, (27 * 8 + 8) + 16 + 45
    r = reconcile_analysis(base, ["pytorch", "fvcore", "thop", "keras"])
    assert r.base is base and [l.convention.name for l in r.lines] == ["pytorch", "fvcore", "thop", "keras"]
    lines = {l.convention.name: l for l in r.lines}
    assert all(l.num_classes is None for l in r.lines)  # the model's own classifier
    assert (lines["pytorch"].params, lines["pytorch"].reported) == (params, macs)
    assert lines["fvcore"].reported == macs + 2 * 288 + 288 and lines["fvcore"].ops_causes["batchnorm"] == 576
    assert lines["fvcore"].ops_causes["classes"] == lines["fvcore"].ops_causes["rounding"] == 0
    assert lines["thop"].ops_causes == {"classes": 0, "rounding": 0, "weights": 0, "bias": 0, "batchnorm": 4 * 288,
                                        "activation": 0, "pool": 0, "add": 0, "norm": 0, "attention": 0,
                                        "other": 0, "sizes": 0, "batch": 0, "flops": 0}  # one flop per multiply-add
    assert lines["keras"].params_causes["batchnorm"] == 16 and lines["keras"].ops_causes is None
    assert len(reconcile_analysis(base).lines) == len(CONVENTIONS)
    with_classes = dataclasses.replace(base, config={**base.config, "num_classes": 5})
    assert {l.num_classes for l in reconcile_analysis(with_classes).lines} == {5}


def test_a_line_agrees_with_a_tool_that_reports_what_it_predicts():
    line = {l.convention.name: l for l in reconcile("mobilenet_v2", 0.5, 96).lines}["fvcore"]
    p, ops = line.params, line.reported
    assert line.agrees((p, ops)) and line.agrees((None, ops)) and line.agrees((p, None)) and line.agrees((None, None))
    assert not line.agrees((p + 1, ops)) and not line.agrees((p, ops - 1)) and not line.agrees((None, ops + 1))

"""reconcile: every convention's difference from the default, by cause, adding up exactly."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

import flopcalc
from flopcalc.conventions import CONVENTIONS
from flopcalc.reconcile import reconcile


@settings(max_examples=25, deadline=None)
@given(model=st.sampled_from(["mobilenet_v1", "mobilenet_v2"]),
       alpha=st.floats(0.1, 2.0), resolution=st.integers(8, 260), classes=st.sampled_from([None, 10, 1001]))
def test_causes_add_up_exactly(model, alpha, resolution, classes):
    r = reconcile(model, alpha, resolution, classes)
    base = r.base.total
    for line in r.lines:
        predicted = flopcalc.analyze(model, alpha, resolution, classes, convention=line.convention.name)
        assert line.params == predicted.total.params
        if line.ops_causes is not None:
            assert sum(line.ops_causes.values()) == line.reported - base.macs
            assert line.ops_causes["weights"] == 0  # no counter disputes the conv multiply-adds
        if line.params_causes is not None:
            assert sum(line.params_causes.values()) == line.params - base.params
        if classes is not None:  # an explicit --classes holds for every convention
            assert line.num_classes == classes
            assert line.ops_causes is None or line.ops_causes["classes"] == 0


def test_v2_differences_are_the_live_tools_components():
    """mobilenet_v2 1.0 at 224: fvcore's extra 13,356,224 batch-norm and 62,720 pooling flops are
    its live per-operator counts of torchvision's V2 (tests/data/torchvision_mobilenet_v2.json)."""
    lines = {l.convention.name: l for l in reconcile("mobilenet_v2").lines}
    assert lines["fvcore"].ops_causes["batchnorm"] == 13_356_224
    assert lines["fvcore"].ops_causes["pool"] == 62_720
    assert lines["flop_counter"].ops_causes["flops"] == 300_774_272
    assert lines["ptflops"].ops_causes["activation"] == 6_105_792  # ReLU6 once per element
    assert lines["ptflops"].ops_causes["bias"] == 1_000
    assert lines["thop"].ops_causes["batchnorm"] == 2 * 13_356_224
    assert lines["torchinfo"].ops_causes["batchnorm"] == 34_112    # its 2C batch-norm parameters
    assert lines["tfslim"].ops_causes["classes"] == 1_280          # 1001 classes: 1280 more weights
    assert lines["tfslim"].params_causes == {"classes": 1_281, "rounding": 0, "weights": 0, "bias": 0,
                                            "batchnorm": -34_112, "activation": 0, "pool": 0, "add": 0,
                                            "norm": 0, "attention": 0}
    assert lines["keras"].params_causes["batchnorm"] == 34_112     # moving mean and variance
    assert lines["keras"].ops_causes is None and lines["flop_counter"].params_causes is None


def test_channel_rounding_is_its_own_cause():
    """V1 at alpha 0.6: TF-Slim truncates (19, 38, 76, ...) where torchvision rounds to 8s."""
    lines = {l.convention.name: l for l in reconcile("mobilenet_v1", 0.6, 171).lines}
    assert lines["tfslim"].ops_causes["rounding"] == (
        flopcalc.analyze("mobilenet_v1", 0.6, 171, 1001, convention="tfslim").total.macs
        - flopcalc.analyze("mobilenet_v1", 0.6, 171, 1001).total.macs)
    assert lines["tfslim"].ops_causes["rounding"] < 0 and lines["keras"].params_causes["rounding"] > 0


def test_reconcile_cli_plain_and_json(cli):
    code, out, _ = cli("reconcile", "mobilenet_v2")
    assert code == 0
    assert "thop          MACs       327,486,720" in out and "flop_counter  flops      601,548,544" in out
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

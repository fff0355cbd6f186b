"""``budget --ms N [--backend B] [--batch N]``: the configs predicted under a latency budget, from the
machine profile alone (no torch). The profile here is synthetic (support.calibration: every layer of a
calibrated kind 1 us, a batch norm 2 us, a dropout 3 us), so the expected times are counted by hand."""

from __future__ import annotations

import json

import pytest

from flopcalc.latency import ENGINE_TERMS, MachineProfile, save_machine

from support import BANDWIDTH, PEAK, calibration, schema_errors

# MobileNet V2's leaves, counted by hand in tests/nn/test_calibrate_bench.py: 99 of calibrated kinds (of which
# 53 heavy: 1 conv, 17 depthwise, 34 pointwise, 1 linear), 52 batch norms, 1 dropout; whatever the resolution.
# One more add for each stage of stride 1 whose first block's input and output widths round to the same
# multiple of 8 (stem 32 -> 16, 64 -> 96, 160 -> 320 channels, times alpha): that block then has a residual
V2_TORCH_MS = (99 * 1 + 52 * 2 + 1 * 3) / 1000  # 0.206 ms
V2_ENGINE_MS = (1e-3 + 53 * 1e-5) * 1e3         # the engine below: 1 ms a run and 10 us a heavy layer


@pytest.fixture
def profile(tmp_path, monkeypatch):
    cal = calibration()
    coef = [0.0] * len(ENGINE_TERMS)
    coef[ENGINE_TERMS.index("run_batch1")] = 1e-3
    coef[ENGINE_TERMS.index("heavy_layer_batch1")] = 1e-5
    coef[ENGINE_TERMS.index("run_batched")] = 5e-3
    cal["engines"] = {"openvino": {"coef": coef, "version": "test", "threads": 1,
                                   "fit": {"networks": 0, "network_median_error": 0.0, "network_max_error": 0.0,
                                           "network_residual": 0.0}}}
    path = tmp_path / "machine.json"
    save_machine(MachineProfile(PEAK, BANDWIDTH, 1, "test", cal), path)
    monkeypatch.setenv("FLOPCALC_MACHINE", str(path))
    return path


def test_every_config_under_the_budget_with_its_predicted_time(cli, profile):
    code, out, err = cli("budget", "--ms", "0.21", "--models", "mobilenet_v2", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert not schema_errors(doc)
    assert len(doc["configs"]) == 39 * 5  # every alpha (0.10 to 2.00 by 0.05) at each of 5 resolutions
    from support import _divisible
    for c in doc["configs"]:
        a = c["config"]["alpha"]
        extra_adds = sum(_divisible(i * a) == _divisible(o * a) for i, o in ((32, 16), (64, 96), (160, 320)))
        assert c["predicted_ms"] == pytest.approx(V2_TORCH_MS + extra_adds / 1000), c
    macs = [c["macs"] for c in doc["configs"]]
    assert macs == sorted(macs, reverse=True)  # the most capable first


def test_per_engine_and_batch(cli, profile):
    code, out, err = cli("budget", "--ms", "1.6", "--backend", "openvino", "--models", "mobilenet_v2",
                         "--resolution", "96", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["budget"] == {"ms": 1.6, "backend": "openvino", "batch": 1}
    assert {round(c["predicted_ms"], 9) for c in doc["configs"]} == {round(V2_ENGINE_MS, 9)}
    code, out, err = cli("budget", "--ms", "4", "--backend", "openvino", "--batch", "32", "--models",
                         "mobilenet_v2")
    assert code == 2 and "the fastest is" in err and "5 ms" in err


def test_a_budget_no_config_meets_names_the_fastest(cli, profile):
    code, out, err = cli("budget", "--ms", "0.2", "--models", "mobilenet_v2")
    assert code == 2 and not out and len(err.strip().splitlines()) == 1
    assert "no config is predicted under 0.2 ms on torch at batch 1; the fastest is mobilenet_v2" in err
    assert "0.206 ms" in err  # the fastest: a config without the extra add


@pytest.mark.parametrize("argv, message", [
    (["--ms", "2", "--backend", "ncnn"], "no calibration for ncnn; run 'flopcalc machine --backend ncnn'"),
    (["--ms", "-1"], "ms must be a finite number > 0, got '-1'"),
    (["--madds", "300000000", "--backend", "openvino"], "--backend, --batch and --profile go with --ms"),
    (["--ms", "2", "--near", "300000000"], "--near with --ms"),
])
def test_bad_latency_budgets_are_one_line(cli, profile, argv, message):
    code, out, err = cli("budget", *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_a_spec_files_configs_are_predicted_too(cli, profile, tmp_path):
    """A spec file (the zoo's V2 written out): its points carry the spec's name, and the budget predicts
    them from the spec itself, the same times as the zoo's V2."""
    spec = tmp_path / "v2.toml"
    code, out, err = cli("spec", "mobilenet_v2", "--out", str(spec))
    assert code == 0, err
    code, out, err = cli("budget", "--ms", "0.21", "--models", str(spec), "--resolution", "224", "--format", "json")
    assert code == 0, err
    assert {round(c["predicted_ms"], 9) for c in json.loads(out)["configs"]} <= {0.206, 0.207, 0.208}


def test_an_engines_own_kernels_replace_torchs_for_their_kinds(cli, profile):
    """An engine fitted with its own kernel times (``kernels``: from its per-layer times) moves torch's kernel
    model by the engine's ratio for those kinds: here torch's 1 us a layer times 4 for pointwise and 2 for
    depthwise; the stem conv and the classifier keep torch's 1 us; each group's factor 1 and 10 us a heavy
    layer. V2 at batch 1 by hand (34 pointwise, 17 depthwise, 1 conv, 1 linear). A neighbour's ratio moves
    the layers near it only: one sample at the first expansion layer's shape, 1.5 times the pointwise
    ratio, with its weight (1 / 0.05 at distance 0) shrunk by the prior (2): exp(20 / 22 * log 1.5)."""
    import math
    from flopcalc.latency import EnginePredictor, load_machine, neighbour_key, layer_description, predict
    from flopcalc.walk import count_layers
    machine = load_machine(profile)
    engine = machine.calibration["engines"]["openvino"]
    for group in ("pointwise", "depthwise", "conv", "linear"):
        engine["coef"][ENGINE_TERMS.index(f"{group}_batch1")] = 1.0
    engine["kernels"] = {"log_ratio": {"pointwise": math.log(4), "depthwise": math.log(2)}, "neighbours": {}}
    a = count_layers("mobilenet_v2", 1.0, 224, 1000)
    expected = 1e-3 + 53 * 1e-5 + 34 * 4e-6 + 17 * 2e-6 + 2 * 1e-6
    assert predict(a, machine, "openvino") == pytest.approx(expected)
    rows = {r.name: r for r in a.layers}
    p = EnginePredictor(machine.calibration, engine)
    assert {r.kind: round(p.row_time(r, 1), 12) for r in rows.values() if r.kind in ("pointwise", "depthwise",
                                                                                       "conv", "linear")} == \
        {"pointwise": 14e-6, "depthwise": 12e-6, "conv": 11e-6, "linear": 11e-6}
    first = next(r for r in a.layers if r.kind == "pointwise" and r.name.startswith("features.2."))
    L = layer_description(first, 1)
    engine["kernels"]["neighbours"]["pointwise"] = [[list(neighbour_key(L)), math.log(1.5)]]
    p = EnginePredictor(machine.calibration, engine)
    assert p.kernel_time(L) == pytest.approx(4e-6 * math.exp(20 / 22 * math.log(1.5)))
    far = next(r for r in a.layers if r.kind == "pointwise" and r.name.startswith("features.18"))
    assert p.kernel_time(layer_description(far, 1)) == pytest.approx(4e-6)

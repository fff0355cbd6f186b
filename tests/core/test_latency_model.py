"""Latency, torch-free: the roofline arithmetic on layers computed by hand here, the calibrated
predictor's sum over a network, the machine profile's cache, and what machine and bench say
without a profile. (The commands that time models: tests/nn/test_calibrate_bench.py.)"""

from __future__ import annotations


import pytest

import flopcalc
from flopcalc.latency import (FEATURES, LatencyError, MachineProfile, cache_path, layer_times,
                              load_machine, predict, roofline_s, save_machine)
from flopcalc.stats import spearman

from support import BANDWIDTH, PEAK, calibration


def _rows(model="mobilenet_v1"):
    a = flopcalc.analyze(model, 1.0, 224)
    return a, {t.name: t for t in layer_times(a, MachineProfile(PEAK, BANDWIDTH, 1))}


def test_roofline_of_a_depthwise_layer_is_memory_bound():
    # V1's first depthwise conv: 32 channels, 3x3, stride 1, 112x112 in and out (Table 1 of the V1 paper)
    a, t = _rows()
    macs = 3 * 3 * 32 * 112 * 112                                     # D_K^2 * M * D_F^2
    nbytes = 4 * (32 * 112 * 112 + 3 * 3 * 32 + 32 * 112 * 112)       # input, weights, output in float32
    row = t["features.1.conv.0.0"]
    assert (row.kind, row.macs, row.bytes) == ("depthwise", macs, nbytes)
    assert row.roofline_s == pytest.approx(nbytes / BANDWIDTH) and row.bound == "memory"
    assert nbytes / BANDWIDTH > 2 * macs / PEAK


def test_roofline_of_a_pointwise_layer_is_compute_bound():
    # V1's first pointwise conv: 32 -> 64 channels at 112x112
    a, t = _rows()
    macs = 32 * 64 * 112 * 112
    nbytes = 4 * (32 * 112 * 112 + 32 * 64 + 64 * 112 * 112)
    row = t["features.1.conv.1.0"]
    assert (row.kind, row.macs, row.bytes) == ("pointwise", macs, nbytes)
    assert row.roofline_s == pytest.approx(2 * macs / PEAK) and row.bound == "compute"
    assert roofline_s(macs, nbytes, PEAK, BANDWIDTH) == (2 * macs / PEAK, "compute")


def test_roofline_scales_with_the_batch_and_the_dtype():
    a1 = flopcalc.analyze("mobilenet_v2", 1.0, 224)
    a8 = flopcalc.analyze("mobilenet_v2", 1.0, 224, batch=8)
    m = MachineProfile(PEAK, BANDWIDTH, 1)
    one, eight = layer_times(a1, m), layer_times(a8, m)
    for r1, r8 in zip(one, eight):
        assert r8.macs == 8 * r1.macs
    half = layer_times(a1, m, "float16")
    assert all(h.bytes * 2 == f.bytes for h, f in zip(half, one))


def test_spearman_by_hand_and_with_ties():
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(1 - 6 * 2 / (4 * 15))  # 1 - 6 sum d^2 / n(n^2-1)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1)
    stats = pytest.importorskip("scipy.stats")
    import random
    rng = random.Random(0)
    x = [rng.randint(0, 5) for _ in range(40)]
    y = [v + rng.random() * 3 for v in x]
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)


@pytest.mark.parametrize("model", ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large"])
def test_prediction_is_the_sum_of_its_layers(model):
    a = flopcalc.analyze(model, 0.5, 160, batch=4)
    kinds = [r.kind for r in a.layers]
    calibrated = sum(k in FEATURES or k == "scale" for k in kinds)
    expected = 1e-6 * calibrated + 3e-6 * kinds.count("dropout") + 2e-6 * (len(kinds) - calibrated
                                                                           - kinds.count("dropout"))
    assert predict(a, MachineProfile(PEAK, BANDWIDTH, 1, calibration=calibration())) == pytest.approx(expected)


def test_profile_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOPCALC_MACHINE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_path() == tmp_path / "flopcalc" / "machine.json"
    with pytest.raises(LatencyError, match="run 'flopcalc machine' first"):
        load_machine()
    m = MachineProfile(PEAK, BANDWIDTH, 2, "x", calibration())
    save_machine(m)
    assert load_machine() == m


def test_without_a_profile_show_and_predict_say_what_to_run(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOPCALC_MACHINE", str(tmp_path / "none.json"))
    for argv in (["machine", "--show"], ["bench", "--grid", "--predict"]):
        code, out, err = cli(*argv)
        assert code == 2 and err.count("\n") == 1 and "run 'flopcalc machine' first" in err, err

"""Latency, torch-free: the roofline arithmetic on layers computed by hand here, the calibrated
predictor's sum over a network, the machine profile's cache, and what machine and bench say
without a profile. (The commands that time models: tests/nn/test_calibrate_bench.py.)"""

from __future__ import annotations


import pytest

import flopcalc
from flopcalc.latency import (FEATURES, LatencyError, MachineProfile, cache_path, layer_times,
                              load_machine, predict, roofline_s, save_machine)
from flopcalc.stats import spearman
from flopcalc.walk import count_layers

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
    assert roofline_s(macs, nbytes, PEAK, BANDWIDTH) == (nbytes / BANDWIDTH, "memory")


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


def test_prediction_is_the_sum_of_its_layers():
    """V1 (Table 1) at 0.5, 160, batch 4 under a calibration in which each timed layer costs 1 us:
    the stem conv and its ReLU, 13 x (depthwise, ReLU, pointwise, ReLU), pool, linear: 56 timed
    layers; 27 batch norms at 2 us (folded: a call each); one dropout at 3 us."""
    a = flopcalc.analyze("mobilenet_v1", 0.5, 160, batch=4)
    expected = 56 * 1e-6 + 27 * 2e-6 + 1 * 3e-6
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


# ----------------------------------------------------------------------------- every feature valued
# The calibrated model on calibrations whose every coefficient is non-zero, against times computed
# here by hand from the features' definitions (flopcalc/latency.py's docstrings): bytes are float32
# (4 each), channels are padded to blocks of 16 where the kernels work in blocks, L2 is 1 MiB and
# L3 16 MiB.
L2, L3 = 2**20, 16 * 2**20


def _over(n, limit):
    return max(0, n - limit)


@pytest.mark.parametrize("L, want", [
    # pointwise 96 -> 40 channels at 56x56, batch 16: its input over L3, its output under
    (dict(kind="pointwise", B=16, cin=96, cout=40, h=56, w=56, ho=56, wo=56, k=1, s=1),
     [1, 16 * 3136 * 96 * 40, 16 * 3136 * (96 * 48 - 96 * 40), 16 * 96 * 3136 * 4, 16 * 40 * 3136 * 4, 96 * 40 * 4,
      _over(16 * 96 * 3136 * 4, L3), 0]),
    # depthwise 5x5 stride 2 on 40 channels (48 padded), 112 -> 56, batch 16
    (dict(kind="depthwise", B=16, cin=40, cout=40, h=112, w=112, ho=56, wo=56, k=5, s=2),
     [1, 16 * 3136 * 48 * 25, 16 * 40 * 12544 * 4, 16 * 40 * 3136 * 4, _over(16 * 40 * 12544 * 4, L3), 0, 40 * 16]),
    # a 3x3 stem conv 3 -> 24 (32 padded), 224 -> 112, batch 16: its output over L3
    (dict(kind="conv", B=16, cin=3, cout=24, h=224, w=224, ho=112, wo=112, k=3, s=2),
     [1, 16 * 12544 * 32 * 3 * 9, 16 * 3 * 50176 * 4, 16 * 24 * 12544 * 4, _over(16 * 24 * 12544 * 4, L3)]),
    # an activation over L2 (read once), a residual add over L3 (two reads and a write)
    (dict(kind="activation", B=2, cin=32, cout=32, h=112, w=112, ho=112, wo=112),
     [1, 2 * 32 * 12544 * 4, 2 * 32 * 12544 * 4 - L2, 0]),
    (dict(kind="add", B=8, cin=32, cout=32, h=112, w=112, ho=112, wo=112),
     [1, 8 * 32 * 12544 * 4, 3 * 8 * 32 * 12544 * 4 - L2, 3 * 8 * 32 * 12544 * 4 - L3]),
    (dict(kind="pool", B=4, cin=1280, cout=1280, h=7, w=7, ho=1, wo=1), [1, 4 * 1280 * 49 * 4, 4 * 1280 * 4]),
    (dict(kind="linear", B=4, cin=1280, cout=1000, h=1, w=1, ho=1, wo=1),
     [1, 4 * 1280 * 1000, 1280 * 1000 * 4, 4 * (1280 + 1000) * 4]),
], ids=lambda v: v["kind"] if isinstance(v, dict) else "")
def test_every_feature_by_hand(L, want):
    from flopcalc.latency import features
    assert features(L) == want


# a calibration in which every coefficient differs and none is zero (seconds per unit)
COEF = {k: [(i + 1) * 10.0 ** -(6 + 3 * (i > 0)) * (1 + j / 10) for i in range(len(v))]
        for j, (k, v) in enumerate(FEATURES.items())}
IN_NET = [(i + 1) * 1e-9 for i in range(10)]
VALUED = {"coef": COEF, "in_network": IN_NET, "call_s": 2.5e-6, "dropout_s": 3.5e-6, "child_s": 0.7e-6,
          "block_call_s": 1.3e-6, "wrapper": [11e-6, 1e-12],
          # the pointwise layer below sits at (log2 16, log2 8, log2 8) = (4, 3, 3): one sample there,
          # one an octave away, one too far to count
          "neighbours": {"pointwise": [[[4.0, 3.0, 3.0], 0.3], [[5.0, 3.0, 3.0], -0.2], [[9.0, 9.0, 9.0], 5.0]]}}


def _valued_net():
    from flopcalc.spec import (Act, Activation, BatchNorm2d, Conv2d, Dropout, GlobalAvgPool, Linear, Network,
                               ResidualAdd, Sequential)
    return Network("valued", 3, (
        ("stem", Sequential((("0", Conv2d(3, 8, 3, 2)), ("1", BatchNorm2d(8)), ("2", Activation(Act.RELU))))),
        ("block", Sequential((("0", Conv2d(8, 8, 3, groups=8)), ("1", Conv2d(8, 8, 1)), ("add", ResidualAdd())))),
        ("drop", Dropout(0.2)), ("pool", GlobalAvgPool()), ("fc", Linear(8, 5))))


def test_a_network_predicted_by_hand_with_every_coefficient_valued():
    """3x8x8 in, batch 1: stem conv 3->8 stride 2 (to 4x4), batch norm, ReLU, depthwise 3x3,
    pointwise 8->8, residual add, dropout, pool, linear 8->5. Each layer's time is its features
    times its kind's coefficients, plus its in-network terms (batch 1: heavy call, light call,
    weight bytes, heavy input bytes, light input bytes), the pointwise one corrected by its
    neighbours; then a call per leaf, a call per container (stem, block, the network) and the
    wrapper's fixed and per-input-byte cost."""
    dot = lambda c, f: sum(a * b for a, b in zip(c, f))  # noqa: E731
    fb = 8 * 4 * 4 * 4  # a 8x4x4 map in float32: 512 bytes
    conv = (dot(COEF["conv"], [1, 16 * 16 * 3 * 9, 3 * 64 * 4, fb, 0])
            + dot(IN_NET[:5], [1, 0, 3 * 8 * 9 * 4, 3 * 64 * 4, 0]))
    relu = dot(COEF["activation"], [1, fb, 0, 0]) + dot(IN_NET[:5], [0, 1, 0, 0, fb])
    dw = dot(COEF["depthwise"], [1, 16 * 16 * 9, fb, fb, 0, 0, 8]) + dot(IN_NET[:5], [1, 0, 8 * 9 * 4, fb, 0])
    # the neighbours' correction: weights 1 / (d + 0.05) for d = 0 and 1 (the third is 99 away),
    # shrunk towards none by a prior of 2: exp(sum w r / (sum w + 2))
    w0, w1 = 1 / 0.05, 1 / 1.05
    pw_iso = dot(COEF["pointwise"], [1, 16 * 64, 16 * (256 - 64), fb, fb, 8 * 8 * 4, 0, 0])
    pw = pw_iso * __import__("math").exp((w0 * 0.3 + w1 * -0.2) / (w0 + w1 + 2)) + \
        dot(IN_NET[:5], [1, 0, 8 * 8 * 4, fb, 0])
    add = dot(COEF["add"], [1, fb, 0, 0]) + dot(IN_NET[:5], [0, 1, 0, 0, fb])
    pool = dot(COEF["pool"], [1, fb, 8 * 4]) + dot(IN_NET[:5], [0, 1, 0, 0, fb])
    fc = dot(COEF["linear"], [1, 40, 160, 13 * 4]) + dot(IN_NET[:5], [1, 0, 160, 8 * 4, 0])
    layers = conv + 2.5e-6 + relu + dw + pw + add + 3.5e-6 + pool + fc       # batch norm, dropout: a call each
    want = layers + 9 * 0.7e-6 + 3 * 1.3e-6 + 11e-6 + 1e-12 * 3 * 64 * 4
    a = count_layers(_valued_net(), resolution=8)
    got = predict(a, MachineProfile(PEAK, BANDWIDTH, 1, calibration=VALUED))
    assert got == pytest.approx(want, rel=1e-12)
    rows = {t.name: t.predicted_s for t in layer_times(a, MachineProfile(PEAK, BANDWIDTH, 1, calibration=VALUED))}
    assert rows["block.1"] == pytest.approx(pw + 0.7e-6, rel=1e-12)
    assert rows["stem.1"] == pytest.approx(2.5e-6 + 0.7e-6, rel=1e-12)


def test_batched_layers_take_the_batched_in_network_terms():
    from flopcalc.latency import Predictor
    p = Predictor(VALUED)
    L = dict(kind="linear", B=2, cin=8, cout=5, h=1, w=1, ho=1, wo=1)
    dot = lambda c, f: sum(a * b for a, b in zip(c, f))  # noqa: E731
    want = dot(COEF["linear"], [1, 2 * 40, 160, 2 * 13 * 4]) + dot(IN_NET[5:], [1, 0, 160, 2 * 8 * 4, 0])
    assert p.layer_time(L, "linear") == pytest.approx(want, rel=1e-12)
    far = dict(kind="pointwise", B=64, cin=512, cout=512, h=1, w=1, ho=1, wo=1)  # no neighbour within reach
    assert p.isolated(far) == p.parametric(far)


def test_a_channel_scale_streams_the_blocks_map_like_an_add():
    """V3-Large's first squeeze-and-excitation scale (features.4): a 72-channel gate times the
    72x28x28 map. The model describes it as an add over that map, not over the (72, 1, 1) gate."""
    from flopcalc.latency import layer_description
    a = flopcalc.analyze("mobilenet_v3_large")
    row = next(r for r in a.layers if r.kind == "scale")
    assert (tuple(row.input_shape), tuple(row.output_shape)) == ((72, 1, 1), (72, 28, 28))
    assert layer_description(row, 2) == dict(kind="add", B=2, cin=72, cout=72, h=28, w=28, ho=28, wo=28)
    bn = next(r for r in a.layers if r.kind == "batchnorm")
    drop = next(r for r in a.layers if r.kind == "dropout")
    assert layer_description(bn, 1) is None and layer_description(drop, 1) is None


def test_layer_times_predict_only_float32_with_a_calibration():
    a = count_layers(_valued_net(), resolution=8)
    plain_profile = MachineProfile(PEAK, BANDWIDTH, 1)
    valued = MachineProfile(PEAK, BANDWIDTH, 1, calibration=VALUED)
    assert all(t.predicted_s is None for t in layer_times(a, plain_profile))
    assert all(t.predicted_s is None for t in layer_times(a, valued, "float16"))
    times = {t.name: t for t in layer_times(a, valued)}
    bn = times["stem.1"]   # 8x4x4 in and out, gamma, beta, mean, variance: memory-bound, no multiply-adds
    assert (bn.macs, bn.bytes, bn.bound) == (0, (128 + 32 + 128) * 4, "memory")
    assert bn.roofline_s == bn.bytes / BANDWIDTH
    fc = times["fc"]       # 40 multiply-adds, 8 in + 40 weights + 5 biases + 5 out
    assert (fc.macs, fc.bytes, fc.kind) == (40, (8 + 40 + 5 + 5) * 4, "linear")
    with pytest.raises(LatencyError, match=r"^the machine profile has no calibration; run 'flopcalc machine' "
                                           r"\(not --quick\)$"):
        predict(a, plain_profile)


def test_roofline_ties_are_compute_bound():
    assert roofline_s(50, 1000, 1e3, 1e4) == (0.1, "compute")   # 2 * 50 / 1e3 == 1000 / 1e4
    assert roofline_s(49, 1000, 1e3, 1e4) == (0.1, "memory")


def test_a_profile_describes_itself_and_reads_older_files(tmp_path, monkeypatch):
    m = MachineProfile(123.4e9, 5.55e9, 2)
    assert m.describe() == "123 GFLOP/s float32 matmul peak, 5.5 GB/s copy bandwidth, 2 threads"
    assert MachineProfile(1e9, 1e9, 1).describe() == "1 GFLOP/s float32 matmul peak, 1.0 GB/s copy bandwidth, 1 thread"
    # a profile written with only the measured numbers: the rest takes its defaults
    old = MachineProfile.from_json({"version": 1, "peak_flops": 1.0, "bandwidth": 2.0, "threads": 3})
    assert old == MachineProfile(1.0, 2.0, 3, "", {}, {}, 0.0)
    full = MachineProfile(1.0, 2.0, 3, "2.13", VALUED, {"r2": 0.9}, 42.0)
    assert MachineProfile.from_json(full.to_json()) == full
    assert full.to_json()["version"] == 1


def test_where_the_profile_lives(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOPCALC_MACHINE", str(tmp_path / "mine.json"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_path() == tmp_path / "mine.json"                  # FLOPCALC_MACHINE first
    monkeypatch.setenv("FLOPCALC_MACHINE", "")
    assert cache_path() == tmp_path / "xdg" / "flopcalc" / "machine.json"
    monkeypatch.delenv("FLOPCALC_MACHINE")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_path() == tmp_path / "home" / ".cache" / "flopcalc" / "machine.json"
    # saved where asked, the folder made; a bad file is one line naming it
    path = save_machine(MachineProfile(1.0, 2.0, 3), tmp_path / "deep" / "p.json")
    assert path == tmp_path / "deep" / "p.json" and load_machine(path) == MachineProfile(1.0, 2.0, 3)
    path.write_text("{not json")
    with pytest.raises(LatencyError, match=r"machine profile '.*p.json' is unreadable \(.*\); run 'flopcalc "
                                           r"machine' again"):
        load_machine(path)
    path.write_text('{"version": 0}')
    with pytest.raises(LatencyError, match="is from another flopcalc version; run 'flopcalc machine' again"):
        load_machine(path)
    with pytest.raises(LatencyError, match=r"no machine profile at '.*none.json'; run 'flopcalc machine' first \(it "
                                           r"measures this machine in about a minute\)"):
        load_machine(tmp_path / "none.json")


@pytest.mark.parametrize("L, key", [
    # log2 of the output positions (batch included), then the channels; depthwise: the stride as
    # 2 (s - 1); conv: the input map's area; the rest: the input positions and channels
    (dict(kind="pointwise", B=2, cin=16, cout=64, h=8, w=8, ho=8, wo=8), (7.0, 4.0, 6.0)),
    (dict(kind="linear", B=4, cin=1024, cout=8, h=1, w=1, ho=1, wo=1), (2.0, 10.0, 3.0)),
    (dict(kind="depthwise", B=1, cin=32, cout=32, h=16, w=16, ho=8, wo=8, k=3, s=2), (6.0, 5.0, 2.0)),
    (dict(kind="depthwise", B=1, cin=32, cout=32, h=8, w=8, ho=8, wo=8, k=3, s=1), (6.0, 5.0, 0.0)),
    (dict(kind="conv", B=1, cin=3, cout=16, h=32, w=8, ho=16, wo=4, k=3, s=2), (6.0, 4.0, 8.0)),
    (dict(kind="activation", B=2, cin=8, cout=8, h=4, w=16, ho=4, wo=16), (7.0, 3.0)),
])
def test_neighbour_keys_by_hand(L, key):
    from flopcalc.latency import neighbour_key
    assert neighbour_key(L) == key


def test_channels_pad_to_blocks_of_16_and_an_unknown_kind_is_refused():
    from flopcalc.latency import features
    pw = dict(kind="pointwise", B=1, cin=200, cout=8, h=4, w=4, ho=4, wo=4, k=1, s=1)
    assert features(pw)[2] == 16 * (208 * 16 - 200 * 8)  # 200 channels pad to 208 (13 blocks), 8 to 16
    with pytest.raises(KeyError, match="'window_pool'"):
        features(dict(kind="window_pool", B=1, cin=1, cout=1, h=1, w=1, ho=1, wo=1))


def test_a_convs_description_carries_its_kernel_and_stride():
    from flopcalc.latency import layer_description
    a = flopcalc.analyze("mobilenet_v2", resolution=(224, 160))
    stem = a.layer("features.0.0")  # 3 -> 32, 3x3 stride 2, 224x160 -> 112x80
    assert layer_description(stem, 4) == dict(kind="conv", B=4, cin=3, cout=32, h=224, w=160, ho=112, wo=80, k=3, s=2)
    pool = a.layer("avgpool")
    assert layer_description(pool, 1) == dict(kind="pool", B=1, cin=1280, cout=1280, h=7, w=5, ho=1, wo=1)
    fc = a.layer("classifier.1")
    assert layer_description(fc, 2) == dict(kind="linear", B=2, cin=1280, cout=1000, h=1, w=1, ho=1, wo=1)
    relu = a.layer("features.0.2")
    assert layer_description(relu, 1) == dict(kind="activation", B=1, cin=32, cout=32, h=112, w=80, ho=112, wo=80)


def test_a_profile_is_written_readably_into_new_folders(tmp_path):
    m = MachineProfile(1.5e9, 1.05e9, 1)
    assert m.describe() == "2 GFLOP/s float32 matmul peak, 1.1 GB/s copy bandwidth, 1 thread"
    path = save_machine(m, tmp_path / "a" / "b" / "p.json")
    assert path.read_text().startswith('{\n "version": 1,\n "peak_flops": 1500000000.0,')  # one key a line
    save_machine(m, path)  # again, into the folder that now exists
    path.write_text('{"version": 0}')
    with pytest.raises(LatencyError, match=f"^machine profile '{path}' is from another flopcalc version"):
        load_machine(path)


def test_the_predictor_without_neighbours_at_the_radius_and_on_its_own():
    from flopcalc.latency import Predictor, layer_description
    bare = {k: v for k, v in VALUED.items() if k != "neighbours"}  # a calibration without the table
    L = dict(kind="pointwise", B=1, cin=8, cout=8, h=4, w=4, ho=4, wo=4, k=1, s=1)  # key (4, 3, 3)
    assert Predictor(bare).isolated(L) == Predictor(bare).parametric(L)
    # samples exactly 2 and sqrt(5) octaves away lie outside the radius: no correction
    edge = {**VALUED, "neighbours": {"pointwise": [[[6.0, 3.0, 3.0], 0.3], [[5.0, 5.0, 3.0], 0.3]]}}
    assert Predictor(edge).isolated(L) == Predictor(edge).parametric(L)
    p = Predictor(VALUED)
    # no layers at batch 2 on a 3x8x8 input: the root's call, and the wrapper's fixed and per-byte cost
    assert p.network_time([], 2, (3, 8, 8)) == pytest.approx(1.3e-6 + 11e-6 + 1e-12 * 2 * 3 * 64 * 4, rel=1e-12)
    a = count_layers(_valued_net(), resolution=8)
    assert p.row_time(a.layer("drop"), 1) == pytest.approx(3.5e-6 + 0.7e-6, rel=1e-12)   # dropout's, not a call's
    assert p.row_time(a.layer("stem.1"), 1) == pytest.approx(2.5e-6 + 0.7e-6, rel=1e-12)
    v3 = flopcalc.analyze("mobilenet_v3_large")
    hidden_act = v3.layer("classifier.1")  # hard-swish on the (1280,) vector
    assert layer_description(hidden_act, 1) == dict(kind="activation", B=1, cin=1280, cout=1280, h=1, w=1, ho=1, wo=1)

"""The machine, bench and export commands on tiny configs: calibration, per-layer timing, the
eager / optimized / ONNX Runtime comparison, exports, bad input, the busy machine. Speed itself is
measured by benchmarks/bench_latency.py, never asserted here."""

from __future__ import annotations

import json
import math

import pytest

import flopcalc
from flopcalc.latency import (MachineProfile, load_machine, predict, save_machine)

from support import BANDWIDTH, PEAK, calibration

import torch  # noqa: E402  (tests/nn/ is collected only where torch is installed)


@pytest.fixture
def profile(tmp_path, monkeypatch):
    path = tmp_path / "machine.json"
    save_machine(MachineProfile(PEAK, BANDWIDTH, torch.get_num_threads(), torch.__version__, calibration()), path)
    monkeypatch.setenv("FLOPCALC_MACHINE", str(path))
    return path


def test_bench_json_per_layer(cli, profile):
    from support import schema_errors
    code, out, err = cli("bench", "mobilenet_v2", "--alpha", "0.35", "--resolution", "32", "--batch", "2",
                         "--per-layer", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert not schema_errors(doc)
    from scipy.stats import spearmanr
    from torch.utils.flop_counter import FlopCounterMode
    from flopcalc.nn import build
    net = build("mobilenet_v2", 0.35).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.zeros(2, 3, 32, 32))
    flops = counter.get_total_flops()  # torch's conv and linear flops on the batch of 2, two per multiply-add
    assert 2 * doc["macs"] == flops  # the macs are the whole batch's
    # the layers timed: the built net's leaf modules but its batch norms (folded into the convs) and
    # its dropout (identity at inference); by hand, V2 has 152 leaves, 52 batch norms and 1 dropout
    leaves = [(n, m) for n, m in net.named_modules() if n and not list(m.children())]
    timed = [n for n, m in leaves if not isinstance(m, (torch.nn.BatchNorm2d, torch.nn.Dropout))]
    assert [x["name"] for x in doc["layers"]] == timed and len(leaves) == 152 and len(timed) == 99
    # the stem: a 3x3 conv, 3 -> 16 channels (0.35 * 32 rounded to a multiple of 8, up to 16 as 8 is
    # under 90% of 11.2), stride 2, so a 16x16 output, for each of the 2 images
    assert doc["layers"][0]["name"] == "features.0.0" and doc["layers"][0]["macs"] == 2 * 16 * 16 * 16 * 3 * 3 * 3
    assert all(x["measured_ms"] > 0 for x in doc["layers"])
    assert doc["fraction_of_peak"] == pytest.approx(flops / (doc["measured_ms"] / 1e3) / PEAK)
    assert doc["images_per_second"] == pytest.approx(2 / (doc["measured_ms"] / 1e3))
    # support.calibration(): a layer of a calibrated kind costs 1e-6 s, a batch norm 2e-6, the dropout
    # 3e-6, nothing else. V2's layers counted by hand: the stem (conv, BN, ReLU6); 17 inverted
    # residual blocks, the first (t=1) depthwise, BN, ReLU6, pointwise, BN and the other 16 pointwise,
    # BN, ReLU6, depthwise, BN, ReLU6, pointwise, BN; a residual add in the 10 repeated blocks of
    # stride 1 (stages of 1, 2, 3, 4, 3, 3, 1 blocks: 0+1+2+3+2+2+0); the head pointwise, BN, ReLU6;
    # pool, dropout, linear. Calibrated: 1 conv + 17 depthwise + 34 pointwise + 35 ReLU6 + 10 adds
    # + 1 pool + 1 linear = 99; batch norms 1 + 2 + 16 * 3 + 1 = 52; dropout 1
    assert doc["predicted_ms"] == pytest.approx(1e3 * (1e-6 * 99 + 2e-6 * 52 + 3e-6 * 1))
    # Spearman's rank correlation of the per-layer roofline and measured times, by scipy
    rho = spearmanr([x["roofline_ms"] for x in doc["layers"]], [x["measured_ms"] for x in doc["layers"]])[0]
    assert doc["rank_correlation"] == pytest.approx(rho)


def test_bench_compare_runs_eager_optimized_and_every_engine(cli, profile, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    from support import schema_errors
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    code, out, err = cli("bench", "mobilenet_v1", "--alpha", "0.25", "--resolution", "32", "--compare",
                         "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert not schema_errors(doc)
    assert [(r["backend"], r["mode"]) for r in doc["runs"]] == [("torch", "eager"), ("torch", "optimized")] + [
        (e, e) for e in ("onnxruntime", "openvino", "executorch", "ncnn")]
    assert all(r["check"]["equal"] and r["graph_macs"] == doc["macs"] for r in doc["runs"][2:])
    assert doc["runs"][0]["speedup"] == 1.0 and doc["measured_ms"] == doc["runs"][1]["measured_ms"]


@pytest.mark.slow
def test_machine_calibrates_and_predicts_without_torch_afterwards(cli, tmp_path, monkeypatch):
    from flopcalc.nn import calibrate
    monkeypatch.setattr(calibrate, "KERNEL_SAMPLES", {k: 4 for k in calibrate.KERNEL_SAMPLES})
    monkeypatch.setattr(calibrate, "NETWORKS", [("mobilenet_v2", 0.2, 40, 1), ("mobilenet_v1", 0.2, 48, 2)])
    path = tmp_path / "m.json"
    code, out, err = cli("machine", "--profile", str(path), "--format", "json", "--quiet")
    assert code == 0, err
    doc = json.loads(out)
    from support import schema_errors
    assert not schema_errors(doc) and doc["calibrated"] and doc["peak_gflops"] > 0
    m = load_machine(path)
    t = predict(flopcalc.analyze("mobilenet_v2", 1.0, 224, batch=32), m)
    assert math.isfinite(t) and t > 0
    assert all(c >= 0 for v in m.calibration["coef"].values() for c in v)  # costs are never negative
    fit = doc["fit"]  # each least-squares fit's residual is reported beside its errors
    assert set(fit["kernel_residual"]) == set(calibrate.FEATURES) and fit["network_residual"] >= 0
    assert all(r >= 0 and math.isfinite(r) for r in fit["kernel_residual"].values())
    code, out, _ = cli("machine", "--profile", str(path), "--show")
    assert code == 0 and "fit_residual" in out and "in-network fit residual" in out


def test_the_calibrations_least_squares_is_scipys_and_reaches_the_optimum():
    """calibrate.nnls is SciPy's nnls: on random problems its solution meets the optimality (KKT)
    conditions, its residual is ||A x - b||, and it equals SciPy's lsq_linear with bounds (an independent
    method, bounded-variable least squares) within 1e-8."""
    import numpy as np
    from scipy.optimize import lsq_linear
    from flopcalc.nn import calibrate
    rng = np.random.default_rng(0)
    active = 0
    for _ in range(25):
        A = rng.random((40, 7))
        b = A @ rng.normal(size=7) + rng.normal(scale=0.1, size=40)
        x, residual = calibrate.nnls(A, b)
        assert (x >= 0).all() and abs(residual - np.linalg.norm(A @ x - b)) < 1e-9
        w = A.T @ (b - A @ x)  # the gradient: zero where x > 0, pointing out of the bound where x == 0
        assert np.allclose(w[x > 0], 0, atol=1e-8) and (w[x == 0] <= 1e-8).all()
        assert np.allclose(x, lsq_linear(A, b, bounds=(0, np.inf), method="bvls").x, atol=1e-8)
        active += int((x == 0).any())
    assert active >= 5  # the bound mattered in many of them


def test_export_writes_onnx_with_the_analyzers_macs(cli, tmp_path):
    pytest.importorskip("onnx")
    from support import schema_errors
    target = tmp_path / "v3.onnx"
    code, out, err = cli("export", "mobilenet_v3_small", "--alpha", "0.75", "--resolution", "96",
                         "--onnx", str(target), "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert not schema_errors(doc)
    from torch.utils.flop_counter import FlopCounterMode
    from flopcalc.nn import build
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        build("mobilenet_v3_small", 0.75).eval()(torch.zeros(1, 3, 96, 96))
    # the graph's macs are torch's: FlopCounterMode's conv and linear flops on one image, two per multiply-add
    assert doc["equal"] and 2 * doc["graph_macs"] == counter.get_total_flops()
    assert doc["bytes"] == target.stat().st_size and doc["config"]["batch"] is None
    assert doc["config"]["resolution"] == [96, 96] and doc["config"]["alpha"] == 0.75


def test_a_failed_export_leaves_the_old_file(cli, tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    from flopcalc.nn import onnx_export
    target = tmp_path / "m.onnx"
    target.write_bytes(b"old")

    def broken(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(onnx_export, "export", broken)
    code, out, err = cli("export", "mobilenet_v2", "--onnx", str(target))
    assert code == 2 and err.count("\n") == 1 and "No space left on device" in err, err
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


@pytest.mark.parametrize("argv, words", [
    (["export", "mobilenet_v2", "--onnx", "{tmp}"], ["is a folder"]),
    (["export", "mobilenet_v2", "--onnx", "{tmp}/no/such/m.onnx"], ["does not exist"]),
    (["bench", "mobilenet_v2", "--batch", "1,32"], ["one --batch"]),
    (["bench", "mobilenet_v2", "--backend", "tpu"], ["'tpu'", "torch", "onnxruntime"]),
    (["bench", "mobilenet_v2", "--threads", "0"], ["'0'"]),
    (["bench", "--grid", "mobilenet_v2", "--alpha", "0.5"], ["--grid times the grid's own alphas", "--alpha"]),
])
def test_bad_latency_input(argv, words, cli, tmp_path, profile):
    code, out, err = cli(*[a.format(tmp=tmp_path) for a in argv])
    assert code == 2 and err.count("\n") == 1, err
    for w in words:
        assert w in err, err


def test_bench_grid_with_a_model_times_that_model_only(cli, profile, monkeypatch):
    """The issue's case: bench --grid mobilenet_v2 ran the whole V1 + V2 grid."""
    from flopcalc.nn import bench
    monkeypatch.setattr(bench, "GRID_ALPHAS", (0.35, 0.5))
    monkeypatch.setattr(bench, "GRID_RESOLUTIONS", (32,))
    code, out, err = cli("bench", "--grid", "mobilenet_v3_small", "--batch", "1", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    from support import schema_errors
    assert not schema_errors(doc)
    assert [(c["model"], c["config"]["alpha"], c["config"]["resolution"]) for c in doc["configs"]] == [
        ("mobilenet_v3_small", 0.35, [32, 32]), ("mobilenet_v3_small", 0.5, [32, 32])]


def test_bench_says_when_the_machine_was_busy(cli, profile):
    """Another process spinning on a core during the timing: one line on stderr, and load.busy in JSON."""
    import subprocess
    import sys
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        code, out, err = cli("bench", "mobilenet_v2", "--alpha", "0.35", "--resolution", "32", "--format", "json")
    finally:
        child.kill()
        child.wait()
    assert code == 0, err
    load = json.loads(out)["load"]
    if load["during"] is None:
        pytest.skip("the load of other processes is unknown here (no /proc/stat)")
    assert load["busy"] is True and load["during"] > 0.5
    assert "flopcalc bench: the machine was busy: other processes used up to" in err


def test_export_into_the_null_device_and_through_a_link(cli, tmp_path):
    """export --onnx wrote a temporary file and renamed it over whatever the target was."""
    pytest.importorskip("onnx")
    import os
    import stat
    before = os.stat("/dev/null")
    code, out, err = cli("export", "mobilenet_v2", "--alpha", "0.35", "--resolution", "32", "--onnx", "/dev/null",
                         "--format", "json")
    assert code == 0, err
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert [p for p in tmp_path.iterdir()] == []
    real, link = tmp_path / "real.onnx", tmp_path / "link.onnx"
    link.symlink_to(real.name)
    code, out2, err = cli("export", "mobilenet_v2", "--alpha", "0.35", "--resolution", "32", "--onnx", str(link),
                          "--format", "json")
    assert code == 0, err
    # the bytes reported are the file's size on disk: the same model written through the link (its
    # weights are random, their size is not) is as large as the one written into /dev/null
    assert link.is_symlink() and json.loads(out2)["bytes"] == real.stat().st_size == json.loads(out)["bytes"]


def test_machine_profile_through_a_link(cli, tmp_path):
    real, link = tmp_path / "real.json", tmp_path / "link.json"
    link.symlink_to(real.name)
    code, out, err = cli("machine", "--quick", "--profile", str(link), "--quiet")
    assert code == 0, err
    assert link.is_symlink() and load_machine(real).peak_flops > 0


def test_bench_of_a_module_source_times_it_as_it_is(cli, profile):
    """A module source timed eager and, with --compare, through ONNX Runtime on it exported; its
    recorded multiply-adds and rows' roofline beside (the calibration covers the family's layers
    only, so no prediction); per layer, its leaf modules."""
    from support import ROOT, schema_errors
    source = str(ROOT / "examples" / "tiny_vit.py") + ":make"
    code, out, err = cli("bench", source, "--input", "2x3x32x32", "--compare", "--per-layer", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert not schema_errors(doc)
    assert doc["config"] == {"inputs": ["2x3x32x32"], "batch": 2}
    assert doc["macs"] == flopcalc.analyze(source, input_shape=(2, 3, 32, 32)).total.macs
    assert [(r["backend"], r["mode"]) for r in doc["runs"]] == [("torch", "eager"), ("onnxruntime", "onnxruntime")]
    assert doc["predicted_ms"] is None and doc["roofline_ms"] > 0 and doc["images_per_second"] > 0
    assert {x["name"] for x in doc["layers"]} >= {"patch", "head", "blocks.0.mlp.0", "blocks.1.ln_2"}
    for argv, words in ((["--alpha", "0.5"], "--alpha is for a zoo model"),
                        (["--eager"], "--eager is for a zoo model"),
                        (["--input", "1x3x32x32", "--batch", "2"], "--batch with --input")):
        code, out, err = cli("bench", source, *argv)
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err

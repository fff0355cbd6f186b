"""``bench --backend ENGINE``, ``bench --grid`` measured twice, and ``machine --backend`` on tiny configs:
the documents they print and what they refuse. No timing is asserted (benchmarks/bench_engines.py
measures speed)."""

from __future__ import annotations

import json

import pytest

import torch  # noqa: E402  (tests/nn/ is collected only where torch is installed)

from flopcalc.latency import MachineProfile, save_machine

from support import BANDWIDTH, PEAK, calibration, schema_errors


@pytest.fixture
def profile(tmp_path, monkeypatch):
    path = tmp_path / "machine.json"
    save_machine(MachineProfile(PEAK, BANDWIDTH, torch.get_num_threads(), torch.__version__, calibration()), path)
    monkeypatch.setenv("FLOPCALC_MACHINE", str(path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return path


def test_bench_on_an_engine_checks_outputs_and_graph_and_reports_the_spread(cli, profile):
    code, out, err = cli("bench", "mobilenet_v2", "--alpha", "0.35", "--resolution", "32", "--batch", "2",
                         "--backend", "openvino", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert not schema_errors(doc)
    run = doc["runs"][0]
    assert (run["backend"], run["mode"], run["dtype"]) == ("openvino", "openvino", "float32")
    assert run["check"]["equal"] is True and run["graph_macs"] == doc["macs"]
    assert run["spread"] >= 0 and run["conversion"]["cached"] is False
    assert doc["predicted_ms"] is None  # no openvino calibration in this profile: roofline only
    code, out, err = cli("bench", "mobilenet_v2", "--alpha", "0.35", "--resolution", "32", "--batch", "2",
                         "--backend", "openvino")
    assert code == 0 and "conversion read from the cache" in out and "= the analyzer's" in out
    assert "spread" in out


def test_bench_int8_on_an_engine(cli, profile):
    code, out, err = cli("bench", "mobilenet_v1", "--alpha", "0.25", "--resolution", "32", "--backend",
                         "onnxruntime", "--dtype", "int8", "--format", "json")
    assert code == 0, err
    run = json.loads(out)["runs"][0]
    assert run["mode"] == "onnxruntime int8" and run["check"]["equal"] is None and "top1_agreement" in run["check"]


@pytest.mark.parametrize("argv, message", [
    (["--backend", "ncnn", "--dtype", "int8"], "ncnn's int8 tools are not in its wheel"),
    (["--backend", "tvm"], "invalid choice: 'tvm'"),
    (["--compare", "--backend", "openvino"], "--compare runs every engine in float32"),
])
def test_bench_refuses_what_cannot_run_in_one_line(cli, profile, argv, message):
    code, out, err = cli("bench", "mobilenet_v1", "--alpha", "0.25", "--resolution", "32", *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and not out, err


def test_machine_backend_needs_the_torch_calibration_first(cli, tmp_path, monkeypatch):
    path = tmp_path / "quick.json"
    save_machine(MachineProfile(PEAK, BANDWIDTH, 1, torch.__version__), path)  # --quick: no calibration
    code, out, err = cli("machine", "--backend", "openvino", "--profile", str(path))
    assert code == 2 and "run 'flopcalc machine' (not --quick)" in err and len(err.strip().splitlines()) == 1


def test_grid_predict_without_that_engines_calibration_is_one_line(cli, profile):
    code, out, err = cli("bench", "--grid", "--predict", "--backend", "openvino")
    assert code == 2 and "flopcalc machine --backend openvino" in err and len(err.strip().splitlines()) == 1


def test_the_grid_measures_every_config_twice_and_judges_the_prediction_against_it(profile):
    """V1's 25 configs at batch 1, each timed in two interleaved sweeps: both measurements kept, the
    prediction's share within 15% printed beside the second measurement's, and the three goals."""
    from flopcalc.latency import load_machine
    from flopcalc.nn import bench
    from flopcalc.views.latency import bench_grid_document
    results = bench.grid(load_machine(profile), batches=(1,), rounds=1, min_time=0.0, models=["mobilenet_v1"])
    assert len(results) == 25
    assert all(r.remeasured_s > 0 and r.measured_s > 0 and r.spread >= 0 for r in results)
    doc = bench_grid_document(results, load_machine(profile))
    assert not schema_errors(doc.data | {"command": "bench"})
    (s,) = doc.data["summary"]
    second = sorted(abs(r.remeasured_s / r.measured_s - 1) for r in results)
    assert s["remeasured_within_15"] == sum(d <= 0.15 for d in second) / 25
    assert s["median_abs_remeasured"] == second[12]
    assert [g["goal"] for g in doc.data["goals"]] == ["share within 15%", "median |error|", "Spearman"]
    # the speed anchor: one factor for batch 1, from the calibration's off-grid networks timed in the same
    # sweeps (none of them a grid config), scaling every prediction; the profile's own kept beside
    from flopcalc.nn.bench import ANCHORS
    from flopcalc.nn.calibrate import GRID
    assert len(ANCHORS) == 6 and not {(m, a, r) for m, a, r, _ in ANCHORS} & set(GRID)
    factor = results[0].speed_factor
    assert factor > 0 and all(r.speed_factor == factor for r in results)
    assert all(r.predicted_s == r.predicted_raw_s * factor for r in results)
    raw = sorted(abs(r.predicted_raw_s / r.measured_s - 1) for r in results)
    assert s["speed_factor"] == factor and s["raw_median_abs_error"] == raw[12]


def test_bench_runs_a_checkpoint_and_a_module_source_on_an_engine(cli, profile):
    """A checkpoint (torchvision's V2 at 0.35 with 10 classes, recorded in tests/data) and a module source
    (examples/tiny_vit.py) each converted for OpenVINO, outputs checked against torch's, the graph's
    multiply-adds equal to the analyzer's (the checkpoint) and to the recording (the module)."""
    import flopcalc
    from support import DATA, ROOT
    recorded = torch.load(DATA / "torchvision_mobilenet_v2_035_c10.pt", weights_only=True)
    ckpt = str(profile.parent / "v2.pth")
    torch.save(recorded["state_dict"], ckpt)  # a torchvision state_dict, as torchvision saves one
    code, out, err = cli("bench", ckpt, "--resolution", "64", "--backend", "openvino", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert not schema_errors(doc) and doc["model"] == ckpt
    assert doc["runs"][0]["check"]["equal"] and doc["runs"][0]["graph_macs"] == doc["macs"]
    assert doc["macs"] == flopcalc.analyze("mobilenet_v2", 0.35, 64, 10).total.macs
    source = str(ROOT / "examples" / "tiny_vit.py") + ":make"
    code, out, err = cli("bench", source, "--input", "2x3x32x32", "--backend", "openvino", "--format", "json")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "openvino (through ONNX) cannot convert this model: it has no conversion for aten::" in err
    cnn = str(ROOT / "examples" / "tiny_resnet.py") + ":make"
    code, out, err = cli("bench", cnn, "--input", "2x3x32x32", "--backend", "openvino", "--format", "json")
    assert code == 0, err
    run = json.loads(out)["runs"][0]
    macs = flopcalc.analyze(cnn, input_shape=(2, 3, 32, 32)).total.macs
    assert run["check"]["equal"] and run["graph_macs"] == macs
    code, out, err = cli("bench", "missing.pt")
    assert code == 2 and "checkpoint 'missing.pt' does not exist" in err


def test_per_layer_on_an_engine_with_its_calibration(cli, tmp_path, monkeypatch):
    """OpenVINO's per-layer times beside its calibrated per-layer prediction (a synthetic engine fit: every
    torch-isolated time of each group times 1, and 10 us a heavy layer): the convs are all timed, the fused
    activations are not, and the layers predicted at 0 (the fit gives the light kinds none) do not break
    the ranking of where prediction and measurement differ most."""
    from flopcalc.latency import ENGINE_TERMS
    cal = calibration()
    coef = [0.0] * len(ENGINE_TERMS)
    for group in ("pointwise", "depthwise", "conv", "linear"):
        coef[ENGINE_TERMS.index(f"{group}_batched")] = 1.0
    coef[ENGINE_TERMS.index("heavy_layer_batched")] = 1e-5
    cal["engines"] = {"openvino": {"coef": coef, "version": "test", "threads": 1, "fit": {
        "networks": 0, "network_median_error": 0.0, "network_max_error": 0.0, "network_residual": 0.0}}}
    path = tmp_path / "machine.json"
    save_machine(MachineProfile(PEAK, BANDWIDTH, torch.get_num_threads(), torch.__version__, cal), path)
    monkeypatch.setenv("FLOPCALC_MACHINE", str(path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    code, out, err = cli("bench", "mobilenet_v2", "--alpha", "0.35", "--resolution", "32", "--batch", "2",
                         "--backend", "openvino", "--per-layer", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert not schema_errors(doc)
    kinds = {x["kind"] for x in doc["layers"]}
    assert {"conv", "depthwise", "pointwise", "linear"} <= kinds and "activation" not in kinds
    assert doc["rank_correlation_calibrated"] is not None and doc["predicted_ms"] > 0
    # the whole model's prediction by hand: V2's 53 heavy layers, each 10 us plus its torch-isolated time
    # (support.calibration: 1 us a layer) times 1; the light kinds and the run itself 0: 53 * 11 us
    assert doc["predicted_ms"] == pytest.approx(53 * 11e-3)

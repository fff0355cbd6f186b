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

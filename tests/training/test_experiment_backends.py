"""``flopcalc experiment backends`` on a tiny setting (V2 at 32 pixels, batch 2, torch and OpenVINO, the
digits model trained for one epoch on 200 images): what it records, that it resumes, and its bad input.
No speed is asserted (benchmarks/bench_engines.py measures it)."""

from __future__ import annotations

import json

import pytest

from flopcalc.conventions import analyze


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("FLOPCALC_MACHINE", str(tmp_path / "none.json"))  # no profile: peak measured quickly
    return tmp_path


def test_backends_records_speed_kinds_and_digits_and_resumes(env):
    from flopcalc.experiments import backends
    out = env / "bk"
    kw = dict(models=["mobilenet_v2"], engines=["torch", "openvino"], epochs=1, subset=200, min_time=0.0,
              resolution=32, batches=(2,), progress=False, threads=1)
    summary, measured = backends.run(out, **kw)
    assert measured == 4  # torch and openvino, float32 and int8
    recs = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    speed = [r for r in recs if r["kind"] == "speed"]
    digits = [r for r in recs if r["kind"] == "digits"]
    assert {(r["engine"], r["dtype"]) for r in speed} == {(e, d) for e in ("torch", "openvino")
                                                          for d in ("float32", "int8")}
    assert {(r["engine"], r["dtype"]) for r in digits} == {(e, d) for e in ("torch", "openvino")
                                                           for d in ("float32", "int8")}
    a = analyze("mobilenet_v2", 1.0, 32, 1000, batch=2)
    for r in speed:
        assert r["macs"] == a.total.macs and r["images_per_second"] > 0 and r["spread"] >= 0
    ov = next(r for r in speed if (r["engine"], r["dtype"]) == ("openvino", "float32"))
    assert ov["check"]["equal"] and ov["graph_macs"] == a.total.macs
    # the kinds' multiply-adds add up to the model's, exactly; their times to the layers timed
    assert sum(k["macs"] for k in ov["kinds"].values()) == a.total.macs
    assert sum(k["share_of_time"] for k in ov["kinds"].values()) == pytest.approx(1.0)
    assert ov["depthwise"]["gflops"] > 0 and 0 < ov["depthwise"]["fraction_of_peak"]
    f32 = next(r for r in digits if (r["engine"], r["dtype"]) == ("openvino", "float32"))
    assert f32["agreement"] == 1.0 and f32["top1"] == f32["torch_float32_top1"]
    text = (out / "README.md").read_text()
    assert "share of the time against its share" in text and "accuracy on the held-out digits" in text
    assert (out / "throughput.png").stat().st_size > 0 and (out / "time_vs_macs.png").stat().st_size > 0
    again, measured = backends.run(out, **kw)  # resumed: nothing measured again
    assert measured == 0 and len(again["speed"]) == 4


def test_backends_bad_input_is_one_line(cli, env):
    (env / "file").write_text("x")
    code, out, err = cli("experiment", "backends", "--out", str(env / "file"), "--engines", "torch")
    assert code == 2 and "is a file, not a folder" in err and len(err.strip().splitlines()) == 1
    code, out, err = cli("experiment", "width", "--out", str(env / "w"), "--engines", "torch")
    assert code == 2 and "--models and --engines are for backends" in err
    code, out, err = cli("experiment", "backends", "--out", str(env / "b"), "--models", "resnet50")
    assert code == 2 and "unknown model 'resnet50'" in err

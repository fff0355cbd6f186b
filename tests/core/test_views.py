"""The Document builders called directly (no argparse, no I/O but what a builder is handed): each
view's JSON, table and CSV from inputs written here by hand, with expected values worked out by
hand beside them (not read back from flopcalc)."""

from __future__ import annotations

import json

import pytest
from support import tiny

from flopcalc import analyze
from flopcalc.latency import MachineProfile
from flopcalc.output import render
from flopcalc.published import SOURCES
from flopcalc.sweep import Fit, Point
from flopcalc.views.latency import machine_document
from flopcalc.views.layers import table_document
from flopcalc.views.report import files_document
from flopcalc.views.sweep import budget_document, sweep_document
from flopcalc.views.training import experiment_document, summarize


def test_table_of_a_hand_written_network():
    """tiny() at 32x16: a 3x3/2 stem conv 3->8 gives 8x16x8, so 3*3*3*8 * 16*8 = 27,648 macs and 216
    weights; the block's 3x3/1 conv 8->8: 3*3*8*8 * 16*8 = 73,728 macs, 576 weights; two batch norms of
    8 channels (16 params each); the classifier 8->10: 80 macs, 80 weights + 10 biases."""
    doc = table_document(analyze(tiny(), resolution=(32, 16)))
    data = doc.data
    assert data["total"] == {"params": 216 + 16 + 576 + 16 + 90, "macs": 27_648 + 73_728 + 80}
    macs = {rec["name"]: rec["macs"] for rec in data["layers"]}
    assert (macs["stem.0"], macs["block.0.0"], macs["fc"]) == (27_648, 73_728, 80)
    assert data["config"] == {"resolution": [32, 16], "batch": 1}
    layers, totals = doc.tables
    assert [r["name"] for r in layers.rows] == [r["name"] for r in data["layers"]]
    assert layers.rows[-1]["macs_share"] == 80 / 101_456
    text = render(doc, "plain")
    assert "total: 101,456 macs (101.46 k), 914 params" in text
    csv_lines = render(doc, "csv").splitlines()
    assert csv_lines[0].split(",")[:3] == ["name", "kind", "op"] and len(csv_lines) == 1 + len(data["layers"])


def _point(alpha, macs, top1=None, source=None):
    return Point("mobilenet_v2", alpha, (224, 224), 1000, 1_000_000 + int(alpha * 10), macs, macs, top1, source)


def test_sweep_document_quotes_top1_as_a_fraction_and_its_source():
    source = next(iter(SOURCES))
    doc = sweep_document([_point(0.5, 97_000_000, 65.4, source), _point(1.0, 300_000_000)], "pytorch")
    recs = doc.data["configs"]
    assert recs[0] == {"model": "mobilenet_v2", "config": {"alpha": 0.5, "resolution": [224, 224],
                                                           "num_classes": 1000},
                       "params": 1_000_005, "macs": 97_000_000, "top1": 0.654, "top1_source": source}
    assert recs[1]["top1"] is None
    plain = render(doc, "plain")
    assert "65.4%" in plain and SOURCES[source].short in plain and "97,000,000" in plain
    assert render(doc, "csv").splitlines()[1] == f"mobilenet_v2,0.5,224x224,1000,1000005,97000000,0.654,{source}"


def test_budget_near_shows_the_distance_as_a_percentage():
    target = 100_000_000
    fits = [Fit(_point(0.5, 97_000_000), 0.03), Fit(_point(0.75, 104_000_000), 0.04)]
    doc = budget_document([f.point for f in fits], None, None, near_target=target, fits=fits)
    assert [r["distance"] for r in doc.data["configs"]] == [0.03, 0.04]
    assert doc.heading == "the configs of each model nearest 100,000,000 macs"
    assert "3.00%" in render(doc, "plain") and "4.00%" in render(doc, "plain")


def test_experiment_summary_mean_and_spread_by_hand():
    """Two seeds at 0.90 and 0.80: mean 0.85, sample standard deviation sqrt(0.005) = 0.0707."""
    config = {"alpha": 0.5, "resolution": [8, 8], "num_classes": 10}
    recs = [{"group": "g", "series": "s", "label": "l", "model": "mobilenet_v2", "config": config,
             "params": 10, "macs": 20, "top1": top1, "train_seconds": secs, "seed": seed}
            for seed, (top1, secs) in enumerate(((0.9, 3.0), (0.8, 5.0)))]
    s = summarize("width", "digits", 2, 2, recs)
    (row,) = s["groups"]
    assert row["top1_mean"] == pytest.approx(0.85) and row["top1_std"] == pytest.approx(0.005 ** 0.5)
    assert (row["seeds"], row["train_seconds_mean"], s["train_seconds_total"]) == (2, 4.0, 8.0)
    text = render(experiment_document(s), "plain")
    assert "85.00%" in text and "7.07" in text
    assert experiment_document(s).heading == "experiment width: data=digits, 2 epochs, 2 seeds each"


def test_files_document_lists_what_was_written_and_what_was_not_recorded(tmp_path):
    (tmp_path / "a.md").write_text("12345")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.png").write_bytes(b"\x89PNG")
    doc = files_document([tmp_path / "a.md", tmp_path / "sub" / "b.png"], tmp_path, ["train"])
    assert doc.data["files"] == [{"file": "a.md", "bytes": 5}, {"file": "sub/b.png", "bytes": 4}]
    assert doc.data["not_recorded"] == ["train"] and "not recorded yet" in doc.notes[0]
    assert json.loads(render(doc, "json"))["command"] == "report"


def test_machine_document_from_a_made_up_profile():
    """100 GFLOP/s and 10 GB/s: the ridge point is 1e11 / 2 / 1e10 = 5.0 multiply-adds per byte."""
    doc = machine_document(MachineProfile(1e11, 1e10, 2, seconds=12.0), "/tmp/m.json")
    values = {r["measure"]: r["value"] for r in doc.tables[0].rows}
    assert values["float32 matmul peak"] == "100.0 GFLOP/s" and values["copy bandwidth (read + write)"] == "10.0 GB/s"
    assert values["ridge point (macs per byte)"] == "5.0" and values["measured in"] == "12 s"
    assert doc.data["peak_gflops"] == 100.0 and doc.data["calibrated"] is False
    assert "roofline only" in doc.notes[-1]

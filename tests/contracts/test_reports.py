"""The committed reports are what `flopcalc report` writes today: regenerated into a temporary
folder (with the committed recorded results copied in) and compared byte for byte. Plots:
every PNG there, referenced from a page, with a caption."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from support import DATA, ROOT

REPORTS = ROOT / "reports"


def _generated(tmp_path: Path, plots: bool) -> Path:
    out = tmp_path / "reports"
    out.mkdir()
    for recorded in ("data", "experiments"):
        if (REPORTS / recorded).exists():
            shutil.copytree(REPORTS / recorded, out / recorded)
    from flopcalc.reports import write
    write(out, plots=plots)
    return out


def test_committed_markdown_is_regenerated_byte_for_byte(tmp_path):
    out = _generated(tmp_path, plots=False)
    fresh = sorted(p.name for p in out.glob("*.md"))
    assert fresh == sorted(p.name for p in REPORTS.glob("*.md")), "a report was added or removed: run flopcalc report"
    for name in fresh:
        assert (out / name).read_text() == (REPORTS / name).read_text(), f"reports/{name} is stale: run flopcalc report"


def test_every_plot_is_written_referenced_and_captioned(tmp_path):
    pytest.importorskip("matplotlib")
    out = _generated(tmp_path, plots=True)
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == sorted(p.name for p in REPORTS.glob("*.png")) and len(pngs) >= 3
    text = "\n".join(p.read_text() for p in out.glob("*.md"))
    for name in pngs:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        m = re.search(r"!\[([^\]]+)\]\(" + re.escape(name) + r"\)\n\n\*([^*]+)\*", text)
        assert m and m.group(1) == m.group(2), f"{name} is not referenced with a caption"


def test_the_index_links_every_page():
    index = (REPORTS / "README.md").read_text()
    for page in REPORTS.glob("*.md"):
        if page.name != "README.md":
            assert f"]({page.name})" in index


def test_the_reports_show_the_golden_totals_and_every_section():
    v2 = (REPORTS / "mobilenet_v2_1.md").read_text()
    # fvcore live on torchvision's MobileNetV2 1.0/224 (tests/data/torchvision_mobilenet_v2.json):
    # conv + linear, its multiply-adds (300,774,272)
    fv = json.loads((DATA / "torchvision_mobilenet_v2.json").read_text())["models"]["1.0"]["fvcore"]["224"]
    assert f"{fv['conv'] + fv['linear']:,} multiply-adds" in v2
    for page, words in {"conventions.md": ["measured"], "published.md": ["discrepanc"],
                        "verification.md": ["configs agree exactly"], "training.md": ["Experiment `width`"],
                        "latency.md": ["rank correlation", "within_15"]}.items():
        text = (REPORTS / page).read_text()
        for w in words:
            assert w in text, (page, w)


def test_a_failed_report_leaves_the_old_ones(tmp_path, monkeypatch):
    out = tmp_path / "reports"
    out.mkdir()
    (out / "README.md").write_text("old")
    from flopcalc import reports
    from flopcalc.reports import recorded

    def broken(root):
        raise RuntimeError("half-way")
    monkeypatch.setattr(recorded, "latency_page", broken)
    with pytest.raises(RuntimeError):
        reports.write(out, plots=False)
    assert [p.name for p in out.iterdir()] == ["README.md"] and (out / "README.md").read_text() == "old"


def test_report_out_is_a_file_is_one_line(cli, tmp_path):
    (tmp_path / "f").write_text("x")
    code, out, err = cli("report", "--out", str(tmp_path / "f"))
    assert code == 2 and err.count("\n") == 1 and "is a file" in err
    code, out, err = cli("report", "--out", str(tmp_path / "r"), "--record", "bench,timing")
    assert code == 2 and "'timing'" in err and "verify, reconcile, train, bench" in err


def test_an_empty_folder_says_what_is_not_recorded(cli, tmp_path):
    import json
    from support import schema_errors
    code, out, err = cli("report", "--out", str(tmp_path / "r"), "--no-plots", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert not schema_errors(doc)
    assert doc["not_recorded"] == ["verify", "reconcile", "train", "bench", "experiments", "zoos"]
    for page in ("verification.md", "training.md", "latency.md"):
        assert "(not recorded yet)" in (tmp_path / "r" / page).read_text()
    assert "live tool totals not recorded yet" in (tmp_path / "r" / "README.md").read_text()


def test_report_writes_through_links_and_into_devices(cli, tmp_path):
    """A page the user made a link, or pointed at the null device, stays what it was."""
    import os
    import stat
    out = tmp_path / "r"
    out.mkdir()
    (out / "README.md").symlink_to(tmp_path / "index_elsewhere.md")
    (out / "conventions.md").symlink_to("/dev/null")
    code, stdout, err = cli("report", "--out", str(out), "--no-plots")
    assert code == 0, err
    assert (out / "README.md").is_symlink() and (tmp_path / "index_elsewhere.md").read_text().startswith("# flopcalc")
    assert os.readlink(out / "conventions.md") == "/dev/null" and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_every_committed_recorded_input_is_in_the_one_manifest():
    """Each file under reports/data and reports/experiments/*/results.jsonl is one RECORDED entry's file,
    and every entry has a committed file (so the recorded pages show real runs)."""
    from flopcalc.reports.markdown import RECORDED, recorded_files
    listed = {p for key in RECORDED for p in recorded_files(REPORTS, key)}
    committed = set((REPORTS / "data").iterdir()) | set((REPORTS / "experiments").glob("*/results.jsonl"))
    assert committed == listed
    assert all(recorded_files(REPORTS, key) for key in RECORDED)


def test_record_writes_where_the_manifest_says(tmp_path, monkeypatch):
    """record() (its commands replaced by a stub that echoes argv) writes each step's files at the
    manifest's paths, and missing() then lists only the steps not run."""
    from flopcalc.reports import missing, record
    from flopcalc.reports import recording
    from flopcalc.reports.markdown import RECORDED, recorded_files
    from flopcalc.zoo import MODELS
    monkeypatch.setattr(recording, "_flopcalc_json", lambda argv, log, threads=None: {"argv": argv})
    assert missing(tmp_path) == ["verify", "reconcile", "train", "bench", "experiments", "zoos"]
    written = record(tmp_path, ("verify", "reconcile", "bench"), log=lambda m: None)
    expected = {p for key, r in RECORDED.items() if r.step in ("verify", "reconcile", "bench")
                for p in recorded_files(tmp_path, key)}
    assert set(written) == expected and len(written) == 2 + len(MODELS) + 3
    assert missing(tmp_path) == ["train", "experiments", "zoos"]

"""CI cannot go green on skips: with CI set, a missing optional dependency fails (the conftest's
importorskip, and a torch-side folder that cannot be collected); without it, it skips. Each case
runs in a fresh interpreter with CI set or unset."""

from __future__ import annotations

import os
import subprocess
import sys

from support import ROOT

PROBE = """
import sys
sys.path.insert(0, "tests")
import conftest, pytest, support
try:
    pytest.importorskip("flopcalc_no_such_module")
except pytest.skip.Exception:
    print("skip")
except pytest.fail.Exception as e:
    print("fail:", e)
support.FOLDER_NEEDS["nn"] = ("flopcalc_no_such_module",)
try:
    print("ignores:", support.folder_ignores("nn"))
except RuntimeError as e:
    print("error:", e)
"""


def _probe(ci: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    r = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_without_ci_a_missing_module_skips_and_a_folder_is_left_out():
    assert _probe(None) == ["skip", "ignores: ['test_*.py']"]
    assert _probe("false")[0] == "skip"


def test_under_ci_a_missing_module_fails_and_a_folder_is_an_error():
    out = _probe("true")
    assert out[0].startswith("fail: CI: flopcalc_no_such_module is not installed")
    assert out[1].startswith("error: CI: tests/nn/ needs flopcalc_no_such_module, not installed")


GATE_CASE = '''
import pytest

def test_runs():
    pass

def test_known():
    pytest.skip("root writes into a read-only folder")

def test_other():
    pytest.skip("somepackage is not installed")
'''


def _gate(tmp_path, ci: str | None, keep: str) -> subprocess.CompletedProcess:
    """pytest with the gate's hooks on a file of three tests, keeping those ``keep`` (-k) selects."""
    case = tmp_path / "test_case.py"
    case.write_text(GATE_CASE)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT / "tests")
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "skipgate",
                           "-k", keep, str(case)], cwd=tmp_path, env=env, capture_output=True, text=True)


def test_under_ci_an_unknown_skip_fails_the_run_and_is_named(tmp_path):
    r = _gate(tmp_path, "true", "runs or known or other")
    assert r.returncode == 1, r.stdout
    assert "CI: 1 test(s) skipped for a reason not in tests/skipgate.py" in r.stdout
    assert "test_case.py::test_other: somepackage is not installed" in r.stdout
    assert "test_known" not in r.stdout.split("skipped for a reason")[1]


def test_a_known_skip_under_ci_and_any_skip_without_it_pass(tmp_path):
    assert _gate(tmp_path, "true", "runs or known").returncode == 0
    r = _gate(tmp_path, None, "runs or known or other")
    assert r.returncode == 0 and "skipped for a reason" not in r.stdout

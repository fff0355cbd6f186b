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

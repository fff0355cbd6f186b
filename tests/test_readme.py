"""Every flopcalc command the README shows prints exactly what the README says."""

from __future__ import annotations

import re

import pytest

from readme_blocks import README, examples, is_flopcalc, python_blocks, run, run_python

TEXT = README.read_text()
SHOWN = [e for e in examples(TEXT) if is_flopcalc(e.command)]


def test_readme_has_examples():
    assert len(SHOWN) >= 3


@pytest.mark.parametrize("example", SHOWN, ids=[e.command for e in SHOWN])
def test_readme_example(example, monkeypatch):
    monkeypatch.chdir(README.parent)  # the examples name files relative to the repository
    if example.command.startswith("flopcalc verify") or "--live" in example.command:
        pytest.importorskip("torch")
        pytest.importorskip("fvcore")
    if "--live" in example.command:
        from flopcalc.nn import peers
        if not all(peers.available().values()):
            pytest.skip("the README's live run shows every peer counter; install flopcalc[peers]")
    assert run(example.command) == example.shown


def test_readme_opens_with_the_two_commands_ci_runs():
    """After the clone, the README's first two commands are the main job and tools/test, and
    CI runs exactly tools/test, which installs torch's CPU build first and runs pytest."""
    quick = TEXT[TEXT.index("## Quick start"):]
    block = quick[quick.index("```\n") + 4:]
    lines = block[:block.index("```")].splitlines()
    assert lines[0].startswith("git clone ")
    assert lines[1].split("#")[0].strip() == "python3 -m flopcalc table mobilenet_v2 --alpha 0.75"
    assert lines[2].split("#")[0].strip() == "tools/test"
    ci = (README.parent / ".ci" / "run").read_text()
    assert re.search(r"^exec tools/test$", ci, re.M)
    script = (README.parent / "tools" / "test").read_text()
    torch_at = script.index("torch==2.13.0")
    assert torch_at < script.index("'.[all]'") < script.index("python -m pytest")
    assert "TORCH_INDEX=https://download.pytorch.org/whl/cpu" in TEXT


@pytest.mark.parametrize("block", python_blocks(TEXT), ids=lambda b: b.splitlines()[0])
def test_readme_python(block, monkeypatch):
    if "torch" in block:
        pytest.importorskip("torch")
    monkeypatch.chdir(README.parent)
    run_python(block)

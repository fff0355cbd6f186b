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
def test_readme_example(example):
    if example.command.startswith("flopcalc verify"):
        pytest.importorskip("torch")
        pytest.importorskip("fvcore")
    assert run(example.command) == example.shown


def test_readme_names_the_commands_ci_runs():
    ci = (README.parent / ".ci" / "run").read_text()
    assert "python -m pytest" in TEXT and "python -m pytest" in ci
    for step in (r"pip install (-q )?torch==2\.13\.0", r"pip install (-q )?'\.\[torch,dev\]'"):
        assert re.search(step, TEXT) and re.search(step, ci), step
    assert re.search(r"flopcalc table mobilenet_v2 --alpha 0\.75", TEXT)


@pytest.mark.parametrize("block", python_blocks(TEXT), ids=lambda b: b.splitlines()[0])
def test_readme_python(block, monkeypatch):
    if "torch" in block:
        pytest.importorskip("torch")
    monkeypatch.chdir(README.parent)
    run_python(block)

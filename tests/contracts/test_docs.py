"""Every flopcalc command the README and the documentation pages show prints exactly what the page
says; every Python block on them runs; the MkDocs site builds with --strict."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from doc_blocks import DOCS, README, ROOT, examples, is_flopcalc, page_name, pages, python_blocks, run, run_python

PAGES = {page_name(p): p.read_text() for p in pages()}
TEXT = PAGES["README.md"]
SHOWN = [(name, e) for name, text in PAGES.items() for e in examples(text) if is_flopcalc(e.command)]
PYTHON = [(name, b) for name, text in PAGES.items() for b in python_blocks(text)]


def test_the_pages_have_examples():
    assert len(SHOWN) >= 20
    assert any(name == "README.md" for name, _ in SHOWN)
    assert len(PAGES) >= 15


def _marks(command: str) -> tuple:
    """The examples that run the verify grid take most of a minute: marked slow."""
    return (pytest.mark.slow, pytest.mark.torch) if "--grid" in command else ()


@pytest.mark.parametrize("page, example", [pytest.param(name, e, marks=_marks(e.command)) for name, e in SHOWN],
                         ids=[f"{name}: {e.command}" for name, e in SHOWN])
def test_doc_example(page, example, monkeypatch):
    monkeypatch.chdir(ROOT)  # the examples name files relative to the repository
    if example.command.startswith("flopcalc verify") or "--live" in example.command or ".py:" in example.command \
            or ".onnx" in example.command:
        pytest.importorskip("torch")
        pytest.importorskip("fvcore")
    if "--live" in example.command:
        from flopcalc.nn import peers
        if not all(peers.available().values()):
            pytest.skip(f"{page}'s live run shows every peer counter; install flopcalc[peers]")
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
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec tools/test$", ci, re.M)
    script = (ROOT / "tools" / "test").read_text()
    torch_at = script.index("torch==2.13.0")
    assert torch_at < script.index("'.[all]'") < script.index("python -m pytest")
    assert "TORCH_INDEX=https://download.pytorch.org/whl/cpu" in TEXT


@pytest.mark.parametrize("page, block", PYTHON, ids=[f"{name}: {b.splitlines()[0]}" for name, b in PYTHON])
def test_doc_python(page, block, monkeypatch):
    if "torch" in block:
        pytest.importorskip("torch")
    monkeypatch.chdir(ROOT)
    run_python(block, page)


def nav_pages() -> list[str]:
    """The pages mkdocs.yml's nav lists, read without a YAML parser (mkdocs may be absent)."""
    lines = (ROOT / "mkdocs.yml").read_text().splitlines()
    start = lines.index("nav:") + 1
    end = next((i for i in range(start, len(lines)) if lines[i] and not lines[i][0].isspace()), len(lines))
    return re.findall(r"^\s+- (?:[^:\n]+: )?([\w./-]+\.md)\s*$", "\n".join(lines[start:end]), re.M)


@pytest.mark.parametrize("page", list(PAGES))
def test_every_code_fence_is_closed(page):
    """An unclosed fence would show the rest of the page as code (and hide its examples)."""
    assert len(re.findall(r"^```", PAGES[page], re.M)) % 2 == 0


def test_every_page_is_in_the_nav():
    listed = nav_pages()
    assert len(listed) == len(set(listed)), listed
    assert sorted(listed) == sorted(p.name for p in DOCS.glob("*.md"))


def test_every_command_is_in_the_readme_table_with_its_page():
    from flopcalc.commands import COMMANDS
    rows = dict(re.findall(r"^\| `flopcalc ([a-z-]+)` \|.*\]\((docs/[\w-]+\.md)\) \|$", TEXT, re.M))
    assert sorted(rows) == sorted(COMMANDS)
    for command, page in rows.items():
        assert (ROOT / page).is_file(), (command, page)
        assert f"flopcalc {command}" in PAGES[page], f"{page} never names flopcalc {command}"


def test_the_readme_links_to_pages_that_exist():
    for target in re.findall(r"\]\((docs/[^)#]*)", TEXT):
        assert (ROOT / target).exists(), target
    assert README.stat().st_size and len(TEXT.splitlines()) <= 200


def test_docs_site_builds_strict(tmp_path):
    import importlib.util
    if not (importlib.util.find_spec("mkdocs") and importlib.util.find_spec("material")):
        if os.environ.get("CI"):
            pytest.fail("mkdocs-material is not installed: CI installs flopcalc[all], which brings it")
        pytest.skip("mkdocs-material is not installed (pip install 'flopcalc[dev]')")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                       cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert r.returncode == 0, r.stderr

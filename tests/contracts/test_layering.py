"""The layering, enforced: data flows one way (no import circle, function-level imports included),
the analytical core never reaches torch, numpy or the torch side, and nothing below the command
line imports it. Read from the source with ``ast``, so a lazy import inside a function counts."""

from __future__ import annotations

import ast
from pathlib import Path
from support import ROOT

PACKAGE = ROOT / "flopcalc"

TORCH_SIDE = ("nn", "training", "experiments")
COMMAND_LINE = ("cli", "__main__", "commands", "browser")  # browser: the web page's door to the cli
HEAVY = {"torch", "numpy", "fvcore", "onnx", "onnxruntime", "sklearn", "PIL"}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it, as absolute names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    tree = ast.parse(path.read_text())
    for block in [n for n in ast.walk(tree) if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING"]:
        block.body = []  # imports for type hints only: never run
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                root = ".".join(base + ([node.module] if node.module else []))
            else:
                root = node.module
            if node.module:  # `from . import cpuload` imports the submodule, not the package face
                out.add(root)
            out |= {f"{root}.{a.name}" for a in node.names}
    return out


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {m: {i for i in imports(p) if i in MODULES and i != m} for m, p in MODULES.items()}
# The analytical core and the presentation above it (views, reports, plots): every module outside the
# torch side and the command line. Standard library (and tabulate, matplotlib for plots) only, so
# `flopcalc table` starts in a blink and installs without torch.
CORE = sorted(m for m in MODULES if m.split(".")[1:2] and m.split(".")[1] not in TORCH_SIDE + COMMAND_LINE)


def test_the_core_is_every_module_outside_the_torch_side_and_the_command_line():
    assert {"flopcalc.walk", "flopcalc.views.layers", "flopcalc.reports.site", "flopcalc.output"} <= set(CORE)
    assert not {"flopcalc.nn.builders", "flopcalc.commands.analysis", "flopcalc.cli"} & set(CORE)


def test_the_scan_sees_the_imports_it_should():
    """The scan is not blind: it finds the command line's lazy door to torch and a core import."""
    assert "flopcalc.nn.runtime" in GRAPH["flopcalc.commands.runtime"]
    assert "flopcalc.spec" in GRAPH["flopcalc.walk"]
    assert "torch" in imports(MODULES["flopcalc.nn.runtime"])


def test_no_import_circle():
    def cycle_from(start):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in GRAPH[node]:
                if nxt == start:
                    return path + [start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
        return None
    for m in GRAPH:
        cycle = cycle_from(m)
        assert cycle is None, " -> ".join(cycle)


def test_the_core_never_reaches_torch_or_the_torch_side():
    for name in CORE:
        for imported in imports(MODULES[name]):
            top = imported.split(".")[0]
            assert top not in HEAVY, (name, imported)
            assert not imported.startswith(tuple(f"flopcalc.{t}" for t in TORCH_SIDE)), (name, imported)
            assert imported != "flopcalc.cli" and not imported.startswith("flopcalc.commands"), (name, imported)


def test_nothing_below_the_command_line_imports_it():
    """cli.py and commands/ sit on top: nothing else imports them (the torch side included) but the
    browser page's door to them (browser.py), which runs the command line itself."""
    top = ("flopcalc.cli", "flopcalc.__main__", "flopcalc.commands", "flopcalc.browser")
    for m, deps in GRAPH.items():
        if not m.startswith(top):
            assert not [d for d in deps if d.startswith(("flopcalc.cli", "flopcalc.commands"))], m


def test_only_the_command_layer_reaches_the_torch_side():
    """Torch lives behind one door: nn/, training/ and experiments/ are imported only by commands/
    (and by each other), never by the core, the views or the reports. The package face is the Python
    API's door, as commands/ is the command line's: ``flopcalc.analyze`` reaches the torch side inside
    the function, only when handed a model it records (an nn.Module, a source, an ONNX file)."""
    torch_side = tuple(f"flopcalc.{t}" for t in TORCH_SIDE)
    assert GRAPH["flopcalc"] & {"flopcalc.nn.load"}  # the scan sees the face's lazy door
    for m, deps in GRAPH.items():
        if m.startswith(torch_side) or m.startswith("flopcalc.commands") or m == "flopcalc":
            continue
        reached = tuple(sorted(d for d in deps if d.startswith(torch_side)))
        assert not reached or (m, reached) in KNOWN_LEAKS, (m, reached)


KNOWN_LEAKS: set = set()  # none left


def test_ruff_passes_with_the_checked_in_configuration():
    """Lint as part of the tests (pyproject.toml's [tool.ruff]); ruff comes with the dev extra."""
    import os
    import subprocess
    import sys
    import pytest
    probe = subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True)
    if probe.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("ruff is not installed: CI installs flopcalc[all], which brings it")
        pytest.skip("ruff is not installed (pip install 'flopcalc[dev]')")
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."],
                       cwd=PACKAGE.parent, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_name_shadows_a_submodule():
    """`import flopcalc.analyze` once gave the function: the package face bound a name of its own
    submodule. No package's face (flopcalc, reports, views, ...) binds a name of one of its submodules."""
    import importlib
    for init in PACKAGE.rglob("__init__.py"):
        folder = init.parent
        face = importlib.import_module(module_name(init)) if not module_name(init).startswith(
            tuple(f"flopcalc.{t}" for t in TORCH_SIDE)) else None
        submodules = {p.stem for p in folder.glob("*.py")} | {p.name for p in folder.iterdir() if p.is_dir()}
        names = set(getattr(face, "__all__", ())) if face else {
            n.id if isinstance(n, ast.Name) else n for n in _bound_names(init)}
        assert not names & (submodules - {"__init__", "__pycache__"}), (module_name(init), names & submodules)


def _bound_names(init: Path) -> set[str]:
    """The names a package face binds at its top level (read from the source: no torch import)."""
    out = set()
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Assign):
            out |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.ImportFrom):
            out |= {a.asname or a.name for a in node.names}
    return out

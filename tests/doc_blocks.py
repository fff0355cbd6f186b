"""The documentation's runnable blocks: README.md and every page under docs/.

A ``console`` block holds ``$ command`` lines, each followed by its output; a ``python`` block is
code whose lines ``expr  # value`` say what ``expr`` evaluates to. Shared by
``tests/contracts/test_docs.py`` (checks every flopcalc command's shown output is what it prints, and runs
every Python block) and ``tools/update_docs.py`` (rewrites the shown output from real runs).
A command may end in ``| head -n N`` or ``| tail -n N``.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
BLOCK = re.compile(r"```console\n(.*?)```", re.S)


def pages() -> list[Path]:
    """README.md, then every page of the documentation site, by name."""
    return [README] + sorted(DOCS.glob("*.md"))


def page_name(path: Path) -> str:
    """A page as the tests' ids name it: ``README.md``, ``docs/output.md``."""
    return path.relative_to(ROOT).as_posix()


@dataclass
class Example:
    command: str
    shown: str
    start: int  # offsets of the shown output in the page's text
    end: int


def examples(text: str) -> list[Example]:
    found = []
    for block in BLOCK.finditer(text):
        body, base = block.group(1), block.start(1)
        for m in re.finditer(r"^\$ (.*)\n((?:(?!\$ ).*\n)*)", body, re.M):
            found.append(Example(m.group(1), m.group(2), base + m.start(2), base + m.end(2)))
    return found


def is_flopcalc(command: str) -> bool:
    return command.startswith("flopcalc ")


def run(command: str) -> str:
    """stdout + stderr of a documented flopcalc command, run in-process."""
    from flopcalc.cli import main

    cmd, _, pipe = command.partition("|")
    argv = shlex.split(cmd)[1:]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        main(argv)
    lines = out.getvalue().splitlines(keepends=True)
    if pipe:
        tool, flag, n = shlex.split(pipe)
        assert flag == "-n", command
        lines = lines[: int(n)] if tool == "head" else lines[-int(n):]
    return "".join(lines)


PYTHON = re.compile(r"```python\n(.*?)```", re.S)


def python_blocks(text: str) -> list[str]:
    return [m.group(1) for m in PYTHON.finditer(text)]


def run_python(block: str, filename: str = "README.md") -> None:
    """Execute a documented Python block; a line ``expr  # value`` must evaluate to ``value``
    (compared as ``repr``, or ``str`` for reprs that are not code)."""
    env: dict = {}
    for line in block.splitlines():
        code, _, shown = line.partition("  # ")
        if not code.strip() or code.lstrip().startswith("#"):
            continue
        try:
            compiled = compile(code, filename, "eval")
        except SyntaxError:  # a statement: import, assignment
            exec(code, env)
            continue
        value = eval(compiled, env)
        if shown:
            assert shown.strip() in (repr(value), str(value)), (code, value, shown)

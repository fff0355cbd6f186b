"""The command lines whose whole output (every format) is recorded under tests/golden/ and must
not change while the code is re-planned (issue 17): every command that neither trains nor times,
and their bad-input lines. ``tools/record_golden.py`` writes the records; ``tests/cli/test_golden.py``
compares. Paths and timings are masked where they appear."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"

# (command line, formats): "" is the command exactly as written (its own --format or the default)
ALL = ("plain", "github", "csv", "json")
LINES: list[tuple[str, tuple[str, ...]]] = [
    ("table mobilenet_v1", ALL),
    ("table mobilenet_v2 --alpha 0.75", ALL),
    ("table mobilenet_v3_large --alpha 0.75 --resolution 192", ALL),
    ("table mobilenet_v3_small --resolution 320x240 --batch 4 --classes 10", ALL),
    ("table mobilenet_v2 --depth 2", ALL),
    ("table mobilenet_v1 --top 5", ("plain", "json")),
    ("table mobilenet_v2 --totals", ALL),
    ("table mobilenet_v1 --convention paper --totals", ("plain", "json")),
    ("table mobilenet_v2 --convention fvcore", ("plain", "json")),
    ("table mobilenet_v2 --convention flop_counter --depth 1", ("plain", "json")),
    ("table mobilenet_v1 --convention tfslim --alpha 0.5 --resolution 160", ("plain", "json")),
    ("table mobilenet_v2 --convention keras --alpha 1.4", ("plain", "json")),
    ("table mobilenet_v3_small --convention ptflops", ("plain", "json")),
    ("table mobilenet_v1 --convention thop --depth 1", ("plain", "json")),
    ("table mobilenet_v2 --convention torchinfo --totals", ("plain", "json")),
    ("table mobilenet_v1 --full-conv --convention paper --totals", ("plain", "json")),
    ("table mobilenet_v2 --alpha 0.5 --resolution 8 --small-input", ("plain", "json")),
    ("table mobilenet_v3_large --memory --dtype float16 --depth 2", ("plain", "json")),
    ("table examples/efficientnet_b0.toml --depth 2", ("plain", "json")),
    ("table examples/mnasnet_b1.toml --alpha 0.5 --top 3", ("plain", "json")),
    ("table mobilenet_v2 --top 3", ("grid", "rst", "latex_booktabs", "html", "tsv")),
    ("separable --kernel 3 --in 128 --out 256 --size 56", ALL),
    ("separable --kernel 5 --in 32 --out 64 --size 112 --stride 2 --alpha 0.75 --rho 0.5", ("plain", "json")),
    ("models", ALL),
    ("spec mobilenet_v3_small", ("",)),
    ("spec mobilenet_v1 --alpha 0.5", ("",)),
    ("conventions", ("plain", "json")),
    ("reconcile mobilenet_v1", ALL),
    ("reconcile mobilenet_v3_large --alpha 0.75 --resolution 160", ("plain", "json")),
    ("published", ("plain", "csv", "json")),
    ("published --discrepancies", ("plain",)),
    ("sweep mobilenet_v2", ALL),
    ("sweep mobilenet_v1 --alpha 0.25,1 --resolution 128,200x100 --convention flop_counter", ("plain", "json")),
    ("sweep mobilenet_v3_small --rho 0.5,1 --convention fvcore", ("plain", "json")),
    ("budget --madds 60000000 --params 2000000 --resolution 160,192,224", ("plain", "csv", "json")),
    ("budget --near 300000000 --resolution 224 --models mobilenet_v1,mobilenet_v2", ("plain", "json")),
    ("budget --madds 20000000 --small-input --resolution 32 --convention thop", ("plain", "json")),
    ("verify mobilenet_v1 --alpha 0.35 --resolution 64", ("plain", "json")),
    ("verify mobilenet_v3_small --alpha 0.75 --resolution 96", ("plain", "json")),
    ("export mobilenet_v2 --alpha 0.35 --resolution 64 --onnx /dev/null", ("plain", "json")),
    ("report --out {tmp}/reports --no-plots", ("plain", "json")),
    # bad input: one line on stderr, exit 2
    ("table mobilenet_v2 --alpha nan", ("",)),
    ("table mobilenet_v2 --resolution 320x", ("",)),
    ("table mobilenet_v9", ("",)),
    ("table mobilenet_v2 --format nope", ("",)),
    ("table mobilenet_v2 --depth 0", ("",)),
    ("table mobilenet_v2 --convention nope", ("",)),
    ("separable --kernel 9 --in 8 --out 8 --size 2 --stride 4", ("",)),
    ("sweep mobilenet_v2 --alpha 0.5,x", ("",)),
    ("budget", ("",)),
    ("budget --madds 1000", ("",)),
    ("spec mobilenet_v2 --out /nonexistent-folder/x.toml", ("",)),
    ("verify", ("",)),
    ("bench --grid mobilenet_v2 --alpha 0.5", ("",)),
    ("train mobilenet_v2 --data mnist --out /tmp/never", ("",)),
    ("evaluate /nonexistent.pt --data digits", ("",)),
    ("report --out README.md", ("",)),
]

NEEDS = {"verify": ("torch", "fvcore"), "export": ("torch", "onnx"), "train": ("torch",),
         "evaluate": ("torch",)}

_MASKS = [(re.compile(r"\d+(\.\d+)? s\b"), "<seconds> s"), (re.compile(r'"seconds": [0-9.e-]+'), '"seconds": <s>'),
          (re.compile(r"\(\d[\d,]* bytes"), "(<bytes> bytes"), (re.compile(r'"bytes": \d+'), '"bytes": <bytes>')]


def argv_of(line: str, fmt: str) -> list[str]:
    return shlex.split(line) + (["--format", fmt] if fmt else [])


def name_of(index: int, fmt: str) -> str:
    return f"{index:02d}.{fmt or 'as-is'}.txt"


def run(line: str, fmt: str) -> str:
    """Exit status, stdout and stderr of a command line run in-process in the repository root, masked;
    ``{tmp}`` in the line is a fresh temporary folder, shown as ``{tmp}``."""
    import os
    import tempfile
    from flopcalc.cli import main
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(ROOT)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv_of(line.replace("{tmp}", tmp), fmt))
        finally:
            os.chdir(cwd)
    text = (f"$ flopcalc {' '.join(argv_of(line, fmt))}\nexit {code}\n--- stdout\n{out.getvalue()}--- stderr\n"
            f"{err.getvalue()}").replace(tmp, "{tmp}")
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    return text

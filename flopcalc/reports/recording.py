"""Recording the reports' slow inputs: the torch-, tool- or machine-dependent commands run in a
fresh interpreter (a clean process for timing), their JSON written where :data:`.markdown.RECORDED`
says. Called only by the ``report`` command (``--record``); a child process, never an import of the
torch side."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ..files import write_text
from ..zoo import MODELS
from .markdown import ReportError, recorded_path

RECORD_STEPS = ("verify", "reconcile", "train", "bench")


def _flopcalc_json(argv: list[str], log, threads: int | None = None) -> dict:
    """Run ``flopcalc ARGV --format json`` in a fresh interpreter (a clean process for timing)."""
    import subprocess
    import sys
    if threads:
        argv = [*argv, "--threads", str(threads)]
    log(f"flopcalc {' '.join(argv)}")
    p = subprocess.run([sys.executable, "-m", "flopcalc", *argv, "--format", "json"], capture_output=True, text=True)
    if p.returncode not in (0, 1) or not p.stdout.strip():
        raise ReportError(f"'flopcalc {' '.join(argv)}' failed (exit {p.returncode}): "
                          f"{(p.stderr.strip().splitlines() or ['no output'])[-1]}")
    return json.loads(p.stdout)


def _save(path: Path, value) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(value, indent=1, sort_keys=True) + "\n")
    return path


def record(out: str | Path = "reports", steps=RECORD_STEPS, log=print, threads: int | None = None) -> list[Path]:
    """Run the slow, torch-, tool- or machine-dependent commands the reports read, and write
    their JSON under ``out/data/``: ``verify`` (the grid, and the reference kernels' padding
    count for V1 and V2 at 224), ``reconcile`` (every convention with the live tools, per model),
    ``train`` (``flopcalc train`` with the defaults: V1 and V2 at alpha 0.5 on the digits) and
    ``bench`` (V2 at batch 1 and 32 with --per-layer --compare, and the grid; run
    ``flopcalc machine`` first, on a quiet machine)."""
    out = Path(out)
    written = []
    if "verify" in steps:
        written.append(_save(recorded_path(out, "verify_grid"), _flopcalc_json(["verify", "--grid"], log, threads)))
        padding = [_flopcalc_json(["verify", m, "--reference"], log, threads)
                   for m in ("mobilenet_v1", "mobilenet_v2")]
        written.append(_save(recorded_path(out, "verify_padding"), padding))
    if "reconcile" in steps:
        for model in MODELS:
            written.append(_save(recorded_path(out, "reconcile", model=model),
                                 _flopcalc_json(["reconcile", model, "--live"], log, threads)))
    if "train" in steps:
        lines = []
        with tempfile.TemporaryDirectory() as tmp:
            for model in ("mobilenet_v1", "mobilenet_v2"):
                _flopcalc_json(["train", model, "--alpha", "0.5", "--data", "digits", "--out", f"{tmp}/{model}",
                                "--quiet"], log, threads)
                lines += (Path(tmp) / model / "results.jsonl").read_text().splitlines()
        path = recorded_path(out, "train")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, "".join(x + "\n" for x in lines))
        written.append(path)
    if "bench" in steps:
        for batch in (1, 32):
            written.append(_save(recorded_path(out, "bench", model="mobilenet_v2", batch=batch),
                                 _flopcalc_json(["bench", "mobilenet_v2", "--batch", str(batch), "--per-layer",
                                                 "--compare", "--quiet"], log, threads)))
        written.append(_save(recorded_path(out, "bench_grid"),
                             _flopcalc_json(["bench", "--grid", "--predict", "--quiet"], log, threads)))
    return written

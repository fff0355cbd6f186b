"""The reports' page helpers: a Page, GitHub tables and captioned figures, and the one manifest
of the recorded inputs (what ``flopcalc report --record`` and ``flopcalc experiment`` write, where,
and from which command), read by the recorded pages and checked by :func:`missing`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import UserError
from ..output import Document, Table, render


class ReportError(UserError):
    pass


@dataclass
class Page:
    name: str                 # file name, e.g. "mobilenet_v2_1.0.md"
    title: str
    headline: str             # the index line's figures
    text: str = ""
    plots: list[tuple[str, Callable[[Path], None]]] = field(default_factory=list)  # (file, draw(path))


def github_markdown(doc: Document) -> str:
    """A Document's tables and notes as GitHub Markdown (no heading: the page has its own)."""
    return render(doc, "github", heading=False).strip() + "\n"


def table(cols, rows, title: str = "") -> str:
    return github_markdown(Document("report", {}, "", [Table(tuple(cols), rows, title)]))


def figure(file: str, caption: str) -> str:
    return f"![{caption}]({file})\n\n*{caption}*\n"


# ------------------------------------------------------------------------ the recorded inputs


@dataclass(frozen=True)
class Recorded:
    """One recorded input: its path under the reports folder (``{model}``, ``{batch}``, ``{name}``
    filled in), the ``--record`` step that writes it (``experiments``: ``flopcalc experiment``),
    and the command whose JSON output it holds."""

    path: str
    step: str
    command: str


RECORDED = {
    "verify_grid": Recorded("data/verify_grid.json", "verify", "flopcalc verify --grid"),
    "verify_padding": Recorded("data/verify_padding.json", "verify",
                               "flopcalc verify MODEL --reference, for V1 and V2"),
    "reconcile": Recorded("data/reconcile_{model}.json", "reconcile", "flopcalc reconcile MODEL --live"),
    "train": Recorded("data/train_results.jsonl", "train",
                      "flopcalc train MODEL --alpha 0.5 --data digits, for V1 and V2 (results.jsonl)"),
    "bench": Recorded("data/bench_{model}_b{batch:02d}.json", "bench",
                      "flopcalc bench MODEL --batch B --per-layer --compare"),
    "bench_grid": Recorded("data/bench_grid.json", "bench", "flopcalc bench --grid --predict"),
    "experiment": Recorded("experiments/{name}/results.jsonl", "experiments", "flopcalc experiment NAME"),
    "torchvision": Recorded("data/torchvision_counts.json", "zoos",
                            "python tools/model_counts.py, where torchvision is installed (see the tool)"),
    "timm": Recorded("data/timm_counts.json", "zoos",
                     "python tools/model_counts.py --zoo timm, where timm is installed (see the tool)"),
}
STEPS = tuple(dict.fromkeys(r.step for r in RECORDED.values()))


def recorded_path(root: Path, key: str, **fields) -> Path:
    return Path(root) / RECORDED[key].path.format(**fields)


def recorded_files(root: Path, key: str) -> list[Path]:
    """Every file of the input ``key`` under ``root``, sorted by path."""
    return sorted(Path(root).glob(re.sub(r"\{[^}]*\}", "*", RECORDED[key].path)))


def load_recorded(root: Path, key: str, **fields):
    """The recorded JSON (or, for ``.jsonl``, the list of its lines), or None when not recorded."""
    path = recorded_path(root, key, **fields)
    return read_recorded(path) if path.exists() else None


def read_recorded(path: Path):
    text = path.read_text()
    return [json.loads(x) for x in text.splitlines()] if path.suffix == ".jsonl" else json.loads(text)

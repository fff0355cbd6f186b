"""``flopcalc report``: the Markdown reports under ``reports/``, generated, deterministic, and kept
true by a test that regenerates them and compares byte for byte.

The analytical pages (per-model tables, scaling grids, conventions, published figures) are
computed from the zoo (:mod:`.analytical`). The pages that need torch, the peer tools, training or a
timed machine read *recorded* results (:mod:`.recorded`), the files :data:`.markdown.RECORDED`
lists under ``reports/data/`` and ``reports/experiments/``, which ``flopcalc report --record``
(:mod:`.recording`) and ``flopcalc experiment`` wrote from real runs, so the reports regenerate
anywhere, without them. Tables go through flopcalc's own renderer (GitHub pipe tables, integers
with thousands separators); plots (:mod:`.figures`) are PNG files from matplotlib's Agg backend,
linked from the Markdown with a one-line caption. Nothing in the Markdown depends on the clock or
the host. Everything is written to a temporary folder first and moved into place only when the
whole set is done (:mod:`.site`): a failure half-way leaves the existing reports as they were.

Layers, bottom up: ``markdown`` (Page, tables, figures, the manifest), ``figures``, ``analytical``
and ``recorded`` (the pages), ``site`` (the set), ``recording`` (running the slow commands).
"""

from __future__ import annotations

from .markdown import RECORDED, Page, ReportError
from .recording import RECORD_STEPS, record
from .site import REPORT_MODELS, missing, pages, write

__all__ = ["RECORDED", "RECORD_STEPS", "REPORT_MODELS", "Page", "ReportError", "missing", "pages", "record",
           "write"]

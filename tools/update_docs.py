"""Rewrite the output shown under each ``$ flopcalc ...`` line of README.md and docs/*.md from a
real run.

    python tools/update_docs.py

tests/contracts/test_docs.py fails whenever a page and the program disagree; this makes every page agree
with the program (read the diff before committing it).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent.parent / "tests")]

from doc_blocks import ROOT, examples, is_flopcalc, page_name, pages, run  # noqa: E402


def main() -> None:
    import os
    os.chdir(ROOT)  # the examples name files relative to the repository
    for page in pages():
        text = old = page.read_text()
        for e in reversed(examples(text)):
            if is_flopcalc(e.command):
                text = text[: e.start] + run(e.command) + text[e.end:]
        if text != old:
            page.write_text(text)
            print(f"updated {page_name(page)}")


if __name__ == "__main__":
    main()

"""Rewrite the output shown under each ``$ flopcalc ...`` line of README.md from a real run.

    python tools/update_readme.py

tests/test_readme.py fails whenever the README and the program disagree; this makes the
README agree with the program (read the diff before committing it).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent.parent / "tests")]

from readme_blocks import README, examples, is_flopcalc, run  # noqa: E402


def main() -> None:
    text = README.read_text()
    for e in reversed(examples(text)):
        if is_flopcalc(e.command):
            text = text[: e.start] + run(e.command) + text[e.end:]
    README.write_text(text)


if __name__ == "__main__":
    main()

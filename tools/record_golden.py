"""Record the output of every command line in tests/golden_commands.py under tests/golden/.

    python tools/record_golden.py

tests/cli/test_golden.py fails whenever a recorded output changes. Run this only when a change of
output is meant (and read the diff before committing it); a re-planning of the code must leave
every record as it is.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent.parent / "tests")]

from golden_commands import GOLDEN, LINES, name_of, run  # noqa: E402


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for old in GOLDEN.glob("*.txt"):
        old.unlink()
    for i, (line, formats) in enumerate(LINES):
        for fmt in formats:
            (GOLDEN / name_of(i, fmt)).write_text(run(line, fmt))
    print(f"recorded {sum(len(f) for _, f in LINES)} outputs of {len(LINES)} command lines under {GOLDEN}")


if __name__ == "__main__":
    main()

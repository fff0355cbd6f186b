"""Every recorded command line prints exactly what it printed when recorded (tests/golden/): the
outputs must not change while the code is re-planned. tools/record_golden.py records them."""

from __future__ import annotations

import pytest

from golden_commands import GOLDEN, LINES, NEEDS, name_of, run

CASES = [(i, line, fmt) for i, (line, formats) in enumerate(LINES) for fmt in formats]


def test_at_least_forty_lines_cover_every_command_that_neither_trains_nor_times():
    commands = {line.split()[0] for line, _ in LINES}
    assert len(LINES) >= 40
    assert {"table", "separable", "models", "spec", "conventions", "reconcile", "published", "sweep", "budget",
            "verify", "export", "report"} <= commands
    assert sorted(p.name for p in GOLDEN.glob("*.txt")) == sorted(name_of(i, f) for i, _, f in CASES)


@pytest.mark.parametrize("index, line, fmt", CASES, ids=[f"{line} [{fmt or 'as-is'}]" for _, line, fmt in CASES])
def test_recorded_output(index, line, fmt):
    for module in NEEDS.get(line.split()[0], ()):
        pytest.importorskip(module)
    assert run(line, fmt) == (GOLDEN / name_of(index, fmt)).read_text()

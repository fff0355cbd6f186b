"""The mutation gate's configuration holds together (the gate itself, tools/mutate, takes half an
hour and is run by hand, not in CI): every gated file exists, the floors are the issue's, the
functions it names exist, the page that reports it lists the same modules, and the command
refuses what it cannot do in one line."""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys
import tomllib

from support import ROOT

CONFIG = tomllib.loads((ROOT / "tools" / "mutation.toml").read_text())


def test_every_gated_file_and_pass_exists_and_the_floors_are_the_goals():
    floors = {}
    for key, mod in CONFIG["modules"].items():
        assert mod["pass"] in CONFIG["passes"], key
        for f in mod["files"]:
            assert (ROOT / f).is_file(), f
        floors[key] = mod["floor"]
    # the goals: 95% for the counting core, 90% for the rest, every mutant of the training step
    assert {k for k, v in floors.items() if v == 0.95} == {"costs", "conventions", "reconcile", "analyze", "memory"}
    assert {k for k, v in floors.items() if v == 0.90} == {"latency", "published", "specfile", "family", "zoo"}
    assert floors["training_step"] == 1.0


def _resolve(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_the_functions_it_names_exist():
    for dotted in CONFIG.get("import_time", {}):
        assert callable(_resolve(dotted)), dotted
    loop = importlib.import_module("flopcalc.training.loop") if importlib.util.find_spec("torch") else None
    if loop is not None:
        assert all(callable(getattr(loop, fn)) for fn in CONFIG["modules"]["training_step"]["functions"])
    for name, entry in CONFIG.get("equivalent", {}).items():
        assert set(entry) == {"mutation", "why"} and entry["why"].strip(), name


def test_the_page_lists_the_gated_modules_with_their_floors():
    page = (ROOT / "docs" / "mutation.md").read_text()
    rows = dict(re.findall(r"^\| ([a-z_ ]+) \| `[^|]+` \| [^|]+ \| (\d+)% \|$", page, re.M))
    want = {key.replace("_", " "): str(round(mod["floor"] * 100)) for key, mod in CONFIG["modules"].items()}
    assert rows == want


def test_bad_arguments_are_one_line_exit_2():
    for argv, words in ((["nope"], "unknown module 'nope'; choose among: costs, conventions"),
                        (["--jobs", "0"], "--jobs 0: give 1 or more"),
                        (["costs", "--write-docs"], "--write-docs records the whole gate")):
        r = subprocess.run([sys.executable, str(ROOT / "tools" / "mutate"), *argv], capture_output=True, text=True)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and words in r.stderr, (argv, r.stderr)

"""What several test folders share: the repository's paths, the JSON Schema validator, a tiny
custom network and an image folder writer. (The test folders mirror the package: core/ needs no
torch, nn/ and training/ do, cli/ runs the command line, contracts/ checks the promises.)"""

from __future__ import annotations

import importlib.util
import json
import os
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"          # fixtures recorded by the tools/ scripts (each file says which)
GOLDEN = ROOT / "tests" / "golden"      # recorded command outputs (tools/record_golden.py)
SCHEMA_PATH = ROOT / "flopcalc" / "schema.json"

# CI=true (set by .ci/run): a missing optional dependency fails instead of skipping
STRICT = os.environ.get("CI", "").lower() not in ("", "0", "false")

# what each torch-side test folder needs (the torch and train extras); without it the folder is left out
FOLDER_NEEDS = {"nn": ("torch", "numpy", "fvcore"), "training": ("torch", "numpy", "sklearn", "PIL")}


def missing(modules) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def left_out() -> list[tuple[str, str]]:
    """The test folders not collected here, each with the first module it misses."""
    return [(folder, missing(needs)[0]) for folder, needs in FOLDER_NEEDS.items() if missing(needs)]


def folder_ignores(folder: str) -> list[str]:
    """``collect_ignore_glob`` for a torch-side folder: every test when a module it needs is missing
    (named in the run's header); under CI that is an error instead."""
    gone = missing(FOLDER_NEEDS[folder])
    if not gone:
        return []
    if STRICT:
        raise RuntimeError(f"CI: tests/{folder}/ needs {', '.join(gone)}, not installed; tools/test installs "
                           "every extra, so this is a broken environment, not a skip")
    return ["test_*.py"]


@lru_cache(maxsize=1)
def validator():
    """The JSON Schema validator of every command's JSON (flopcalc/schema.json); None where
    jsonschema is not installed (under CI that fails the test instead)."""
    if importlib.util.find_spec("jsonschema") is None:
        if STRICT:
            import pytest
            pytest.fail("CI: jsonschema is not installed; tools/test installs every extra", pytrace=False)
        return None
    import jsonschema
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


UNCHECKED: list[str] = []  # documents whose schema check could not run (reported at the end of the run)


def schema_errors(doc) -> list:
    """The document's schema errors. Without jsonschema only this check is left out, not the
    test that calls it: the rest of the test still runs, and the run's summary says how many
    documents went unchecked (tests/contracts/test_schema.py, which is about the schema, skips)."""
    v = validator()
    if v is None:
        UNCHECKED.append(str(doc)[:60])
        return []
    return list(v.iter_errors(doc))


def tiny(stride: int = 1, out_c: int = 8):
    """A custom network written by hand: a stem, one residual block, pool, classifier."""
    from flopcalc.spec import Act, ConvBNAct, GlobalAvgPool, Linear, Network, ResidualAdd, Sequential
    body = Sequential((("0", ConvBNAct(8, out_c, 3, stride)), ("add", ResidualAdd())))
    return Network("tiny", 3, (
        ("stem", ConvBNAct(3, 8, 3, 2, act=Act.RELU)),
        ("block", body),
        ("pool", GlobalAvgPool()),
        ("fc", Linear(out_c, 10)),
    ))


# A made-up machine (100 GFLOP/s, 10 GB/s), so the latency arithmetic is checkable by hand.
PEAK, BANDWIDTH = 1e11, 1e10


def calibration(per_call=1e-6, bn=2e-6, dropout=3e-6) -> dict:
    """A calibration in which every layer of a calibrated kind costs ``per_call`` and nothing else."""
    from flopcalc.latency import FEATURES, IN_NETWORK
    return {"coef": {k: [per_call] + [0.0] * (len(v) - 1) for k, v in FEATURES.items()},
            "in_network": [0.0] * len(IN_NETWORK), "neighbours": {}, "call_s": bn, "dropout_s": dropout,
            "child_s": 0.0, "block_call_s": 0.0, "wrapper": [0.0, 0.0]}


@lru_cache(maxsize=1)
def torchvision_v3() -> dict:
    """torchvision 0.29.1's MobileNetV3 figures, recorded by tools/make_torchvision_v3_fixtures.py."""
    return json.loads((DATA / "torchvision_mobilenet_v3.json").read_text())["models"]

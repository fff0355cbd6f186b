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


# ----------------------------------------------------------------------------- the papers' tables by hand
# Expected counts independent of flopcalc's walk: the V1 and V2 papers' layer tables written out here,
# checked against the live records (tests/cli/test_cli.py::test_the_hand_formulas_match_the_recorded_sources)
# and used where no recording exists.
def _divisible(v: float, d: int = 8) -> int:
    """torchvision's _make_divisible (torchvision/models/_utils.py), as written there."""
    new_v = max(d, int(v + d / 2) // d * d)
    if new_v < 0.9 * v:
        new_v += d
    return new_v


def _down(n: int) -> int:
    """A 3x3 conv at stride 2 with padding 1: (n + 2 - 3) // 2 + 1."""
    return (n - 1) // 2 + 1


# MobileNets (Howard et al. 2017) Table 1: each depthwise-separable layer's pointwise output and the
# depthwise stride (the last s2 is the table's misprint; the reference code uses s1)
V1_TABLE1 = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
# MobileNetV2 (Sandler et al. 2018) Table 2: (t, c, n, s) of the bottleneck stages
V2_TABLE2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
             (6, 320, 1, 1)]


def v1_counts(alpha: float = 1.0, res=224, classes: int = 1000, width=None) -> tuple[int, int]:
    """(params, macs) of MobileNet V1 from Table 1, by hand: a 3x3/2 conv to 32, then per row a 3x3
    depthwise (9c weights) and a 1x1 pointwise (c*o), each with batch norm (2 per channel), then the
    classifier (weights and bias); macs are weights times output area. Widths ``width(c * alpha)``:
    torchvision's _divisible by default (TF-Slim's: ``lambda v: max(int(v), 8)``)."""
    width = width or _divisible
    h, w = (res, res) if isinstance(res, int) else res
    c, h, w = width(32 * alpha), _down(h), _down(w)
    params, macs = 27 * c + 2 * c, 27 * c * h * w
    for out, s in V1_TABLE1:
        o = width(out * alpha)
        h, w = (_down(h), _down(w)) if s == 2 else (h, w)
        params += 9 * c + 2 * c + c * o + 2 * o
        macs += (9 * c + c * o) * h * w
        c = o
    return params + c * classes + classes, macs + c * classes


def v2_counts(alpha: float = 1.0, res=224, classes: int = 1000) -> tuple[int, int]:
    """(params, macs) of MobileNetV2 from Table 2, by hand: stem 3x3/2 to 32; per block a 1x1 expansion
    to e = t*c (none when t = 1), a 3x3 depthwise (stride s on a stage's first block), a 1x1 projection,
    each with batch norm; a 1x1 conv to 1280 (scaled only above alpha 1), then the classifier."""
    h, w = (res, res) if isinstance(res, int) else res
    c, h, w = _divisible(32 * alpha), _down(h), _down(w)
    params, macs = 27 * c + 2 * c, 27 * c * h * w
    for t, out, n, s in V2_TABLE2:
        o = _divisible(out * alpha)
        for i in range(n):
            e = c * t
            if t != 1:
                params += c * e + 2 * e
                macs += c * e * h * w
            h, w = (_down(h), _down(w)) if i == 0 and s == 2 else (h, w)
            params += 9 * e + 2 * e + e * o + 2 * o
            macs += (9 * e + e * o) * h * w
            c = o
    last = _divisible(1280 * max(1.0, alpha))
    params += c * last + 2 * last + last * classes + classes
    return params, macs + c * last * h * w + last * classes

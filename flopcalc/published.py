"""Published MobileNet figures (``flopcalc/data/published_figures.csv``), each recomputed under
its source's convention and compared at its printed precision.

Each source prints in its own way, found by reproducing its numbers and stated once here:
which convention it counts under, and whether it rounds or truncates to the digits it prints.
A row that the source's own rule does not reproduce is a *discrepancy*: it is listed with
flopcalc's value and the single changes (rounding direction, classes, channel rule, parameter
rule) that would reproduce it, never special-cased into agreement.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .conventions import CONVENTIONS, analyze
from .walk import DEFAULT_CONVENTION

DATA = Path(__file__).resolve().parent / "data" / "published_figures.csv"


@dataclass(frozen=True)
class PrintRule:
    short: str
    convention: str
    macs: str    # "round" (half up) or "truncate", to the digits printed
    params: str


# How each source prints, established by the rows it reproduces: TF-Slim's V2 table truncates
# its multiply-adds (300.77M is printed 300) and rounds parameters; the V2 paper truncates both
# (300.77M and 3.47M print as 300 and 3.4); the V1 paper and TF-Slim's V1 table round.
SOURCES = {
    "TF-Slim MobileNetV2 checkpoint table": PrintRule("TF-Slim V2", "tfslim", "truncate", "round"),
    "TF-Slim MobileNetV1 checkpoint table": PrintRule("TF-Slim V1", "tfslim", "round", "round"),
    "TF-Slim MobileNetV3 checkpoint table": PrintRule("TF-Slim V3", "tfslim", "round", "round"),
    "MobileNets paper (Howard et al. 2017)": PrintRule("V1 paper", "paper", "round", "round"),
    "MobileNetV2 paper (Sandler et al. 2018)": PrintRule("V2 paper", "paper", "truncate", "truncate"),
    "torchvision weights metadata": PrintRule("torchvision", "pytorch", "round", "round"),
    "EfficientNet paper (Tan & Le 2019)": PrintRule("EfficientNet paper", "pytorch", "round", "round"),
    "MobileNetV4 paper (Qin et al. 2024)": PrintRule("V4 paper", "pytorch", "round", "round"),
}


# MobileNetV4's larger models: the networks the paper links (TensorFlow Model Garden's
# official/vision/modeling/backbones/mobilenet.py, its MNv4 block specs, read at commit 001ec92b) are timm's,
# block for block, and flopcalc's equal timm's exactly (tests/core/test_family_zoo.py); no counting rule
# (classes, batch norm, the classifier, attention products, rounding or truncating, any subset of layer kinds
# left out) reproduces these four rows together with Conv-S's.
_V4_UNEXPLAINED = ("the paper's released networks (TensorFlow Model Garden's block specs, the same as timm's) "
                   "give flopcalc's count; no counting rule reproduces the printed figure together with "
                   "Conv-S's, so the paper's table was likely computed on other versions of the networks")


# Causes found by reading the sources, beyond the single changes _diagnose tries; each claim is
# recomputed in tests/core/test_published.py. TF-Slim's V3 table (research/slim/nets/mobilenet/README.md)
# kept the figures of the first arXiv version of the V3 paper (May 2019), whose Small had a
# 1280-wide classifier layer; TF-Slim's code and later versions of the paper have 1024.
RESEARCHED = {
    ("TF-Slim MobileNetV3 checkpoint table", "mobilenet_v3_large", 1.0):
        "the table prints the V3 paper's own 5.4M, a truncation: TF-Slim's model has 5.46M parameters "
        "without batch norm (and 5.48M with gamma and beta)",
    ("TF-Slim MobileNetV3 checkpoint table", "mobilenet_v3_small", 1.0):
        "the row quotes the first arXiv version of the V3 paper (May 2019), whose Small had a 1280-wide "
        "classifier layer: that model has 2,935,737 parameters (printed 2.9) and 56,915,136 multiply-adds; "
        "no consistent rule gives 66M (the printed 0.75/1.0 ratio is 0.67, the count's 0.77), and later "
        "versions of the paper print 56M",
    ("TF-Slim MobileNetV3 checkpoint table", "mobilenet_v3_small", 0.75):
        "the row quotes the first arXiv version of the V3 paper, whose Small had a 1280-wide classifier "
        "layer: that model has 2,400,321 parameters and 43,767,216 multiply-adds (printed 2.4 and 44); "
        "TF-Slim's own Small has a 1024-wide one",
    **{("MobileNetV4 paper (Qin et al. 2024)", m, 1.0): _V4_UNEXPLAINED for m in (
        "mobilenet_v4_conv_medium", "mobilenet_v4_hybrid_medium", "mobilenet_v4_conv_large",
        "mobilenet_v4_hybrid_large")},
}


@dataclass(frozen=True)
class Row:
    source: str
    table: str
    model: str
    alpha: float
    resolution: int
    classes: int
    million_macs: str   # as printed
    million_params: str
    top1: float | None
    note: str


@lru_cache(maxsize=1)
def rows() -> tuple[Row, ...]:
    with DATA.open(newline="") as f:
        return tuple(Row(r["source"], r["table"], r["model"], float(r["alpha"]), int(r["resolution"]),
                         int(r["classes"]), r["million_madds"], r["million_params"],
                         float(r["top1"]) if r["top1"] else None, r["note"]) for r in csv.DictReader(f))


def printed(n: int, digits: int, rule: str, unit: int = 10**6) -> str:
    """``n / unit`` written with ``digits`` decimals, rounded half up or truncated, in exact
    integer arithmetic (a float would misround ties such as 76.525)."""
    scale = 10**digits
    q = (2 * n * scale + unit) // (2 * unit) if rule == "round" else n * scale // unit
    whole, frac = divmod(q, scale)
    return f"{whole}.{frac:0{digits}d}" if digits else str(whole)


def printed_as(n: int, shown: str, rule: str) -> str:
    """``n`` printed as the source printed ``shown``: millions with as many decimals, or billions where
    the figure ends in ``B`` (the EfficientNet paper's 0.39B)."""
    if shown.endswith("B"):
        return printed(n, digits_of(shown[:-1]), rule, unit=10**9) + "B"
    return printed(n, digits_of(shown), rule)


def digits_of(text: str) -> int:
    return len(text.partition(".")[2])


@dataclass(frozen=True)
class FigureCheck:
    row: Row
    macs: int | None          # flopcalc's exact count under the source's convention
    params: int | None
    macs_printed: str | None  # that count as the source would print it
    params_printed: str | None
    causes: tuple[str, ...]   # for a discrepancy: what would reproduce it, or why nothing does

    @property
    def macs_ok(self) -> bool:
        return self.macs_printed == self.row.million_macs

    @property
    def params_ok(self) -> bool:
        return self.params_printed == self.row.million_params

    @property
    def ok(self) -> bool:
        return self.macs_ok and self.params_ok


def _count(row: Row, convention: str, classes: int, rounding: str | None = None):
    from .walk import count_layers
    from .conventions import count
    conv = CONVENTIONS[convention]
    a = count_layers(row.model, row.alpha, row.resolution, classes, rounding=rounding or conv.rounding)
    c = count(a, conv)
    return c.total.macs, c.total.params


def _param_rules() -> dict[str, str]:
    """One convention per distinct parameter rule (several tools count the same way)."""
    out, seen = {}, set()
    for name, c in CONVENTIONS.items():
        if c.params is not None and c.params_rule not in seen:
            seen.add(c.params_rule)
            out[name] = c.params_rule
    return out


PAST = {"round": "rounded", "truncate": "truncated"}  # "print as 301 if rounded"


def _diagnose(row: Row, src: PrintRule, macs_ok: bool, params_ok: bool, macs: int, params: int) -> tuple[str, ...]:
    """The single changes to the source's own rule that would reproduce a row it does not:
    the other rounding direction, rounding twice, the other classifier width, another
    channel rule, another parameter rule. None of them is applied: the row stays a discrepancy."""
    from .zoo import WIDTH_RULES
    found = []
    checks = [("macs", macs_ok, macs, row.million_macs, src.macs), ("params", params_ok, params,
                                                                       row.million_params, src.params)]
    flip = {"round": "truncate", "truncate": "round"}
    for what, ok, n, shown, rule in checks:
        if ok:
            continue
        if printed_as(n, shown, flip[rule]) == shown:
            found.append(f"{what} {n:,} print as {shown} if {PAST[flip[rule]]}; this source {rule}s its other rows")
        d, unit = (digits_of(shown[:-1]), 10**9) if shown.endswith("B") else (digits_of(shown), 10**6)
        twice = printed(n, d + 2, "round", unit)
        if _round_text(twice, d) + ("B" if unit == 10**9 else "") == shown:
            found.append(f"{what} {n:,} print as {shown} if rounded twice ({twice} first)")
    conv = CONVENTIONS[src.convention]
    tries = [(f"{c} classes", src.convention, c, None) for c in (1000, 1001) if c != row.classes]
    tries += [(f"{r} channel rounding", src.convention, row.classes, r)
              for r in WIDTH_RULES.get(row.model, {}) if r != conv.rounding]
    for label, convention, classes, rounding in tries:
        m, p = _count(row, convention, classes, rounding)
        if not macs_ok and printed_as(m, row.million_macs, src.macs) == row.million_macs:
            found.append(f"macs reproduce with {label} ({m:,})")
        if not params_ok and printed(p, digits_of(row.million_params), src.params) == row.million_params:
            found.append(f"params reproduce with {label} ({p:,})")
    if not params_ok:
        for name, rule in _param_rules().items():
            if name != src.convention:
                p = _count(row, name, row.classes, conv.rounding)[1]
                if printed(p, digits_of(row.million_params), src.params) == row.million_params:
                    found.append(f"params reproduce counting {rule.rstrip('.')} ({p:,}; the {name} convention)")
    if not found:
        parts = []
        for what, ok, n, shown, _ in checks:
            if not ok:
                value = float(shown[:-1]) * 1e9 if shown.endswith("B") else float(shown) * 1e6
                off = (value - n) / n
                parts.append(f"{what} {n:,} are {abs(off):.1%} {'below' if off > 0 else 'above'} the printed "
                             f"{shown if shown.endswith('B') else shown + 'M'}")
        found.append("; ".join(parts) + ": no single change of rounding, classes, channel rule or parameter "
                     "rule reproduces it")
    return tuple(found)


def _round_text(text: str, digits: int) -> str:
    """A printed decimal rounded again, half up, to fewer digits (exact, on the digits)."""
    whole, _, frac = text.partition(".")
    n = int(whole + frac)
    return printed(n, digits, "round", unit=10 ** len(frac))


def check(row: Row) -> FigureCheck:
    from .zoo import MODELS
    src = SOURCES[row.source]
    if row.model not in MODELS:
        return FigureCheck(row, None, None, None, None, (f"{row.model} is not in flopcalc's zoo",))
    a = analyze(row.model, row.alpha, row.resolution, row.classes, convention=src.convention)
    macs, params = a.total.macs, a.total.params
    mp = printed_as(macs, row.million_macs, src.macs)
    pp = printed(params, digits_of(row.million_params), src.params)
    c = FigureCheck(row, macs, params, mp, pp, ())
    if c.ok:
        return c
    causes = _diagnose(row, src, c.macs_ok, c.params_ok, macs, params)
    known = RESEARCHED.get((row.source, row.model, row.alpha))
    return FigureCheck(row, macs, params, mp, pp, causes + ((known,) if known else ()))


def check_all() -> list[FigureCheck]:
    return [check(r) for r in rows()]


def top1(model: str, alpha: float, resolution: int, prefer: str = DEFAULT_CONVENTION) -> tuple[float, str] | None:
    """The published ImageNet top-1 of a config with a published checkpoint (TF-Slim's tables,
    torchvision's weights), the one counted under ``prefer``'s convention first."""
    found = [r for r in rows() if (r.model, r.alpha, r.resolution) == (model, alpha, resolution)
             and r.top1 is not None and ("checkpoint" in r.source or "torchvision" in r.source)]
    if not found:
        return None
    found.sort(key=lambda r: SOURCES[r.source].convention != prefer)
    return found[0].top1, found[0].source

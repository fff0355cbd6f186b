"""The reports' figures: each drawer writes one PNG through :mod:`flopcalc.plots` (matplotlib,
imported only when a plot is drawn)."""

from __future__ import annotations

from pathlib import Path

from ..published import check_all
from ..walk import count_layers
from ..zoo import MODELS


def draw_frontier(path: Path) -> None:
    from ..plots import pyplot, save
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for model in MODELS:
        pts = sorted((c.macs, c.row.top1) for c in check_all() if c.row.model == model and c.row.top1 is not None
                     and c.macs is not None and ("checkpoint" in c.row.source or "torchvision" in c.row.source))
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o", label=MODELS[model].title, alpha=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("multiply-adds per image (flopcalc, the source's convention)")
    ax.set_ylabel("published ImageNet top-1 (%)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    save(fig, path)


def draw_laws(path: Path) -> None:
    from ..plots import pyplot, save
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.0, 3.4))
    alphas = [0.25 * i for i in range(1, 9)]
    res = list(range(64, 289, 32))
    left.plot(alphas, [count_layers("mobilenet_v2", a).total.macs / 1e6 for a in alphas], "o-", label="macs (M)")
    left.plot(alphas, [count_layers("mobilenet_v2", a).total.params / 1e6 for a in alphas], "s-", label="params (M)")
    left.set_xlabel("alpha (resolution 224)")
    right.plot(res, [count_layers("mobilenet_v2", 1.0, r).total.macs / 1e6 for r in res], "o-", label="macs (M)")
    right.plot(res, [count_layers("mobilenet_v2", 1.0, r).total.params / 1e6 for r in res], "s-", label="params (M)")
    right.set_xlabel("resolution (alpha 1)")
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
        ax.legend()
    save(fig, path)


def draw_layer_times(path: Path, doc: dict) -> None:
    from ..plots import pyplot, save
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.5))
    xs = [x["measured_ms"] for x in doc["layers"]]
    ax.scatter(xs, [x["roofline_ms"] for x in doc["layers"]], s=10, label="roofline")
    ax.scatter(xs, [x["predicted_ms"] for x in doc["layers"]], s=10, marker="x", label="calibrated prediction")
    _predicted_against_measured(ax, min(xs) / 2, max(xs) * 2)
    save(fig, path)


def _predicted_against_measured(ax, lo: float, hi: float, band: float = 0.0) -> None:
    """Log-log axes, the diagonal, and a +-band around it."""
    ax.plot([lo, hi], [lo, hi], color="grey", linewidth=0.8)
    if band:
        ax.fill_between([lo, hi], [lo * (1 - band), hi * (1 - band)], [lo * (1 + band), hi * (1 + band)],
                        color="grey", alpha=0.15)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured (ms)")
    ax.set_ylabel("predicted (ms)")
    ax.legend(fontsize=8)


def draw_grid(path: Path, grid: dict) -> None:
    from ..plots import pyplot, save
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.5))
    for batch, marker in ((1, "o"), (32, "s")):
        cs = [c for c in grid["configs"] if c["config"]["batch"] == batch]
        ax.scatter([c["measured_ms"] for c in cs], [c["predicted_ms"] for c in cs], s=12, marker=marker,
                   label=f"batch {batch}")
    xs = [c["measured_ms"] for c in grid["configs"]]
    _predicted_against_measured(ax, min(xs) / 1.5, max(xs) * 1.5, band=0.15)
    save(fig, path)


def draw_layers(path: Path) -> None:
    from ..plots import pyplot, save
    plt = pyplot()
    a = count_layers("mobilenet_v2")
    rows = [r for r in a.layers if r.macs]
    colors = {"pointwise": "tab:blue", "depthwise": "tab:orange", "conv": "tab:green", "linear": "tab:red"}
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8.0, 4.8), sharex=True)
    xs = range(len(rows))
    top.bar(xs, [r.macs / 1e6 for r in rows], color=[colors[r.kind] for r in rows])
    bottom.bar(xs, [r.params / 1e3 for r in rows], color=[colors[r.kind] for r in rows])
    top.set_ylabel("macs (M)")
    bottom.set_ylabel("params (k)")
    bottom.set_xlabel("conv and fully connected layers, in execution order")
    from matplotlib.patches import Patch
    top.legend(handles=[Patch(color=c, label=k) for k, c in colors.items()], fontsize=7)
    save(fig, path)

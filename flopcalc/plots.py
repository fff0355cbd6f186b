"""Plots for the experiments and the reports: matplotlib on its headless Agg backend, PNG,
deterministic (no timestamp or software version in the file's metadata)."""

from __future__ import annotations

from pathlib import Path

from .errors import UserError, install_hint

PNG_METADATA = {"Software": None}  # no matplotlib version in the file: the same data, the same bytes


class PlotError(UserError):
    pass


def pyplot():
    try:
        import matplotlib
    except ImportError:
        raise PlotError(f"plots need matplotlib: {install_hint('plots')}") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "font.size": 9, "svg.hashsalt": "flopcalc"})
    return plt


def save(fig, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` atomically, as PNG with fixed metadata."""
    import io
    from .files import write_bytes
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata=PNG_METADATA, bbox_inches="tight")
    pyplot().close(fig)
    write_bytes(path, buf.getvalue())
    return Path(path)


def accuracy_vs_macs(series: dict[str, list[tuple[int, float, float, str]]], path, title: str,
                     ylabel: str = "held-out top-1 (%)", logx: bool = True) -> Path:
    """One line per series of (macs, mean %, spread %, label) points, error bars for the spread."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, points in series.items():
        points = sorted(points)
        xs = [p[0] for p in points]
        ax.errorbar(xs, [p[1] for p in points], yerr=[p[2] for p in points], marker="o", capsize=3, label=name)
        for x, y, _, label in points:
            if label:
                ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel("multiply-adds per image (flopcalc)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return save(fig, path)

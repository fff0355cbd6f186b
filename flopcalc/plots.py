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


def engine_throughput(speed: list[dict], path) -> Path:
    """Grouped bars: images/s of each model (groups) on each engine and dtype (bars), one panel per batch."""
    plt = pyplot()
    batches = sorted({r["batch"] for r in speed})
    models = list(dict.fromkeys(r["model"] for r in speed))
    series = list(dict.fromkeys((r["engine"], r["dtype"]) for r in speed))
    fig, axes = plt.subplots(1, len(batches), figsize=(6.4 * len(batches), 4.0), squeeze=False)
    width = 0.8 / max(1, len(series))
    for ax, batch in zip(axes[0], batches):
        for j, (engine, dtype) in enumerate(series):
            ys = [next((r["images_per_second"] for r in speed if (r["model"], r["engine"], r["dtype"], r["batch"])
                        == (m, engine, dtype, batch)), 0.0) for m in models]
            ax.bar([i + j * width for i in range(len(models))], ys, width, label=f"{engine} {dtype}",
                   hatch="//" if dtype == "int8" else None)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(models))])
        ax.set_xticklabels([m.replace("mobilenet_", "") for m in models])
        ax.set_ylabel("images/s")
        ax.set_title(f"batch {batch}")
        ax.grid(True, axis="y", alpha=0.3)
    axes[0][-1].legend(fontsize=7, ncol=2)
    return save(fig, path)


def time_vs_macs(speed: list[dict], path, model: str, batch: int) -> Path:
    """Grouped bars: each kind's share of the MAdds (first bar) and its share of the time on each engine that
    times its layers, for ``model`` at ``batch``."""
    plt = pyplot()
    runs = [r for r in speed if r["model"] == model and r["batch"] == batch and r.get("kinds")]
    fig, ax = plt.subplots(figsize=(7.2, 4.0))
    if runs:
        kinds = [k for k, v in sorted(runs[0]["kinds"].items(), key=lambda kv: -kv[1]["share_of_macs"])
                 if v["share_of_macs"] or any((r["kinds"].get(k) or {}).get("share_of_time") for r in runs)]
        width = 0.8 / (len(runs) + 1)
        ax.bar(range(len(kinds)), [100 * runs[0]["kinds"][k]["share_of_macs"] for k in kinds], width,
               label="share of MAdds", color="black")
        for j, r in enumerate(runs, 1):
            ax.bar([i + j * width for i in range(len(kinds))],
                   [100 * ((r["kinds"].get(k) or {}).get("share_of_time") or 0.0) for k in kinds], width,
                   label=f"time: {r['engine']} {r['dtype']}")
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(kinds))])
        ax.set_xticklabels(kinds)
    ax.set_ylabel("% of the whole model")
    ax.set_title(f"{model} batch {batch}: share of time against share of multiply-adds")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    return save(fig, path)

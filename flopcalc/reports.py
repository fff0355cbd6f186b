"""``flopcalc report``: the Markdown reports under ``reports/``, generated, deterministic, and kept
true by a test that regenerates them and compares byte for byte.

The analytical sections (per-model tables, scaling grids, conventions, published figures) are
computed here, from the zoo. The sections that need torch, the peer tools, training or a timed
machine read *recorded* results, files under ``reports/data/`` and ``reports/experiments/`` that
``flopcalc report --record`` (and ``flopcalc experiment``) wrote from real runs, so the reports
regenerate anywhere, without them. Tables go through flopcalc's own renderer (GitHub pipe tables,
integers with thousands separators); plots are PNG files from matplotlib's Agg backend, linked
from the Markdown with a one-line caption. Nothing in the Markdown depends on the clock or the
host. Everything is written to a temporary folder first and moved into place only when the whole
set is done: a failure half-way leaves the existing reports as they were.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .walk import count_layers as plain, block_rows
from .conventions import CONVENTIONS, analyze
from .costs import KINDS
from .errors import UserError
from .files import write_bytes, write_text
from .output import Col, Document, Table, render
from .published import SOURCES, check_all
from .views.conventions import reconcile_document
from .views.layers import detail
from .views.records import flat
from .zoo import MODELS

REPORT_MODELS = [(m, a) for m in MODELS for a in (1.0, 0.75)]
DATA = "data"
EXPERIMENTS_DIR = "experiments"


class ReportError(UserError):
    pass


@dataclass
class Page:
    name: str                 # file name, e.g. "mobilenet_v2_1.0.md"
    title: str
    headline: str             # the index line's figures
    text: str = ""
    plots: list[tuple[str, Callable[[Path], None]]] = field(default_factory=list)  # (file, draw(path))


def gh(doc: Document) -> str:
    """A Document's tables and notes as GitHub Markdown (no heading: the page has its own)."""
    return render(doc, "github", heading=False).strip() + "\n"


def table(cols, rows, title: str = "") -> str:
    return gh(Document("report", {}, "", [Table(tuple(cols), rows, title)]))


def figure(file: str, caption: str) -> str:
    return f"![{caption}]({file})\n\n*{caption}*\n"


def pct(v) -> str:
    return "" if v is None else f"{100 * v:.2f}%"


def _load_json(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


# ------------------------------------------------------------------------ per model


def model_page(model: str, alpha: float) -> Page:
    a = plain(model, alpha, 224)
    paper = analyze(model, alpha, 224, convention="paper")
    title = f"{MODELS[model].title}, alpha {alpha:g}, 224x224"
    t = a.total
    rows = [{"name": r.name, "kind": r.kind, "op": detail(r), "input_shape": list(r.input_shape),
             "output_shape": list(r.output_shape), "params": r.params, "macs": r.macs,
             "macs_share": r.macs / t.macs} for r in a.layers]
    cols = (Col("name"), Col("kind"), Col("op"), Col("input_shape", "shape"), Col("output_shape", "shape"),
            Col("params", "int"), Col("macs", "int"), Col("macs_share", "pct"))
    kinds = [{"kind": KINDS[k], "macs": v.macs, "macs_share": v.macs / paper.total.macs, "params": v.params,
              "params_share": v.params / paper.total.params}
             for k, v in paper.by_kind.items() if v.macs or v.params]
    kind_cols = (Col("kind"), Col("macs", "int"), Col("macs_share", "pct"), Col("params", "int"),
                 Col("params_share", "pct"))
    # per block: the depthwise-separable pair against the one standard conv it replaces
    full = plain(model, alpha, 224, full_conv=True)
    std = {r.name: r for r in block_rows(full, 2)}
    sep_rows = []
    for r in block_rows(a, 2):
        if r.kind in ("depthwise_separable", "inverted_residual", "mbconv") and r.name in std:
            dw = next(x for x in a.layers if x.name.startswith(r.name + ".") and x.kind == "depthwise")
            pair = [x for x in a.layers if x.name.startswith(r.name + ".") and x.kind in ("depthwise", "pointwise")]
            pw = pair[pair.index(dw) + 1]  # the 1x1 conv after the depthwise one
            std_conv = next(x for x in full.layers if x.name.startswith(r.name + ".") and x.kind == "conv")
            n, k = pw.spec.out_c, dw.spec.kernel
            sep_rows.append({"name": r.name, "kind": r.kind, "op": f"{k}x{k}, {dw.spec.in_c}->{n}",
                             "standard": std_conv.macs, "separable": dw.macs + pw.macs,
                             "ratio": (dw.macs + pw.macs) / std_conv.macs, "closed_form": 1 / n + 1 / (k * k)})
    sep_cols = (Col("name"), Col("kind"), Col("op"), Col("standard", "int"), Col("separable", "int"),
                Col("ratio", "float"), Col("closed_form", "float"))
    text = (f"# {title}\n\n{a.total.macs:,} multiply-adds and {a.total.params:,} parameters (every learnable "
            f"value; {paper.total.params:,} conv and fully connected weights, the papers' count). Generated by "
            f"`flopcalc report`; the same table: `flopcalc table {model} --alpha {alpha:g}`.\n\n"
            "## Resources by layer type\n\nThe layout of the MobileNet paper's Table 2 (parameters as the papers "
            "count them: weights, batch norm folded into the convs):\n\n" + table(kind_cols, kinds)
            + "\n## Standard against depthwise-separable, block by block\n\nEach block's depthwise + pointwise "
              "pair (in V2 and V3, the depthwise conv and the projection) against the one standard convolution "
              "with the same input and output channels and stride (`table --full-conv`): the ratio of their "
              "multiply-adds is the paper's eq. (5), 1/N + 1/D_K^2, exactly.\n\n" + table(sep_cols, sep_rows)
            + "\n## Every layer\n\n" + table(cols, rows))
    headline = f"{a.total.macs:,} macs, {a.total.params:,} params"
    return Page(f"{model}_{alpha:g}.md", title, headline, text)


# ------------------------------------------------------------------------ scaling


def scaling_page() -> Page:
    from .grid import DEFAULT_RESOLUTIONS, PUBLISHED_ALPHAS, sweep
    parts = ["# Scaling: width multiplier and resolution\n",
             "Multiply-adds and parameters over the alpha x resolution grid of each family, as the TF-Slim "
             "checkpoint tables list them, with the published ImageNet top-1 beside each config that has a "
             "published checkpoint (quoted, never recomputed). flopcalc's default counting (torchvision's "
             "models, 1000 classes).\n"]
    for model in MODELS:
        pts = sweep(model, PUBLISHED_ALPHAS[model], DEFAULT_RESOLUTIONS)
        rows = [{"alpha": p.alpha, "resolution": p.resolution[0], "params": p.params, "macs": p.macs,
                 "top1": p.top1, "source": SOURCES[p.top1_source].short if p.top1_source else None} for p in pts]
        parts.append(f"## {MODELS[model].title}\n\n" + table(
            (Col("alpha", "multiplier"), Col("resolution", "int"), Col("params", "int"),
             Col("macs", "int"), Col("top1", "float", digits=1), Col("source")), rows))
    from .grid import BUDGET_ALPHAS, all_points, near
    pairs = []
    for v2_alpha in (0.35, 0.5, 0.75, 1.0, 1.4):
        v2 = all_points(["mobilenet_v2"], [224], (v2_alpha,))[0]
        v1 = near(all_points(["mobilenet_v1"], [224], BUDGET_ALPHAS), v2.macs, 1)[0].point
        pairs.append({"v2_alpha": v2.alpha, "v2_macs": v2.macs, "v2_params": v2.params, "v2_top1": v2.top1,
                      "v1_alpha": v1.alpha, "v1_macs": v1.macs, "v1_params": v1.params, "v1_top1": v1.top1})
    parts.append("## V1 against V2 at matched multiply-adds (224)\n\nFor each V2 width, the V1 width (alpha in "
                 "steps of 0.05) with the nearest multiply-adds (`flopcalc budget --near`); top-1 where both "
                 "were published:\n\n" + table(
                     (Col("v2_alpha", "multiplier"), Col("v2_macs", "int"), Col("v2_params", "int"),
                      Col("v2_top1", "float", digits=1), Col("v1_alpha", "multiplier"),
                      Col("v1_macs", "int"), Col("v1_params", "int"), Col("v1_top1", "float", digits=1)), pairs))
    parts.append("## The accuracy/cost frontier\n\n" + figure(
        "scaling_frontier.png", "Published ImageNet top-1 against flopcalc's multiply-adds, every published "
                                "checkpoint of V1, V2 and V3."))
    parts.append("\n## How the costs grow\n\n" + figure(
        "scaling_laws.png", "V2's multiply-adds and parameters against alpha (at 224) and resolution (at alpha 1): "
                            "multiply-adds grow with alpha squared and resolution squared, parameters with alpha "
                            "squared only."))
    v2 = plain("mobilenet_v2")
    return Page("scaling.md", "Scaling", f"V2 1.0 at 224: {v2.total.macs:,} macs", "\n".join(parts),
                [("scaling_frontier.png", _draw_frontier), ("scaling_laws.png", _draw_laws)])


def _draw_frontier(path: Path) -> None:
    from .plots import pyplot, save
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


def _draw_laws(path: Path) -> None:
    from .plots import pyplot, save
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.0, 3.4))
    alphas = [0.25 * i for i in range(1, 9)]
    res = list(range(64, 289, 32))
    left.plot(alphas, [plain("mobilenet_v2", a).total.macs / 1e6 for a in alphas], "o-", label="macs (M)")
    left.plot(alphas, [plain("mobilenet_v2", a).total.params / 1e6 for a in alphas], "s-", label="params (M)")
    left.set_xlabel("alpha (resolution 224)")
    right.plot(res, [plain("mobilenet_v2", 1.0, r).total.macs / 1e6 for r in res], "o-", label="macs (M)")
    right.plot(res, [plain("mobilenet_v2", 1.0, r).total.params / 1e6 for r in res], "s-", label="params (M)")
    right.set_xlabel("resolution (alpha 1)")
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
        ax.legend()
    save(fig, path)


# ------------------------------------------------------------------------ conventions, published


def conventions_page(root: Path) -> Page:
    from .reconcile import reconcile
    parts = ["# Conventions: why every tool prints another number\n",
             "Each model under every convention flopcalc knows, each difference from its default split by "
             "cause, the causes adding up exactly (`flopcalc reconcile MODEL`). The *measured* columns are "
             "what the tools printed when run live on the model (`flopcalc reconcile MODEL --live`), "
             "recorded in `data/reconcile_*.json` by `flopcalc report --record`.\n"]
    live_found = 0
    for model in MODELS:
        recorded = _load_json(root / DATA / f"reconcile_{model}.json")
        live = None
        if recorded is not None:
            live = {c["name"]: (c["live"]["params"], c["live"]["reported"]) if c.get("live") else None
                    for c in recorded["conventions"] if "live" in c}
            live_found += 1
        doc = reconcile_document(reconcile(model), live)
        parts.append(f"## {MODELS[model].title} (alpha 1, 224)\n\n" + gh(doc))
    live = f"live tool totals recorded for {live_found}" if live_found else "live tool totals not recorded yet"
    return Page("conventions.md", "Conventions", f"{len(CONVENTIONS)} conventions x {len(MODELS)} models, {live}",
                "\n".join(parts))


def published_page() -> Page:
    from .views.conventions import published_document
    checks = check_all()
    ok = sum(c.ok for c in checks)
    doc = published_document(checks)
    text = ("# Published figures\n\nEvery figure in `flopcalc/data/published_figures.csv` (the MobileNet papers, "
            "the TF-Slim checkpoint tables, torchvision's weights) recomputed under its source's convention and "
            "printed as that source prints (`flopcalc published`).\n\n" + gh(doc))
    return Page("published.md", "Published figures", f"{ok} of {len(checks)} reproduced exactly, "
                f"{len(checks) - ok} discrepancies explained", text)


# ------------------------------------------------------------------------ recorded sections


def verification_page(root: Path) -> Page:
    grid = _load_json(root / DATA / "verify_grid.json")
    padding = _load_json(root / DATA / "verify_padding.json")
    parts = ["# Verification\n",
             "flopcalc builds each model from the same specs it counts, runs it, and checks every layer's "
             "output shape, parameters and counts against fvcore's `FlopCountAnalysis` and torch's "
             "`FlopCounterMode` (`flopcalc verify`). Recorded by `flopcalc report --record` from "
             "`flopcalc verify --grid --format json` and `flopcalc verify MODEL --reference --format json`.\n"]
    if grid is None:
        return Page("verification.md", "Verification", "not recorded yet", "\n".join(parts + ["(not recorded yet)\n"]))
    configs = grid["configs"]
    ok = sum(c["ok"] for c in configs)
    layers = sum(c["layers"] for c in configs)
    parts.append(f"**{ok} of {len(configs)} configs agree exactly**, every layer and block "
                 f"({layers:,} layers in all), with fvcore and FlopCounterMode:\n")
    parts.append(table((Col("model"), Col("alpha", "multiplier"), Col("resolution", "resolution"),
                        Col("layers", "int"), Col("params", "int"), Col("macs", "int"), Col("fvcore", "int"),
                        Col("flop_counter", "int"), Col("check")), [flat(c) for c in configs]))
    if padding:
        rows = []
        for doc in padding:
            total = sum(doc["padding_macs"].values())
            macs = next(t for t in doc["totals"] if t["name"] == "conv + linear macs")["checks"]["fvcore"]["expected"]
            rows.append({"model": doc["model"], "alpha": doc["config"]["alpha"],
                         "resolution": doc["config"]["resolution"][0], "macs": macs, "padding_macs": total,
                         "padding_share": total / macs})
        parts.append("\n## Multiply-adds on zero padding\n\nThe NumPy reference kernels count the multiply-adds "
                     "they execute (equal to the formula on every layer) and how many multiply a padded zero; the "
                     "formula, like every counter, includes them:\n\n" + table(
                         (Col("model"), Col("alpha", "multiplier"), Col("resolution", "int"),
                          Col("macs", "int"), Col("padding_macs", "int"), Col("padding_share", "pct")), rows))
    return Page("verification.md", "Verification", f"{ok} of {len(configs)} configs agree exactly with fvcore and "
                f"FlopCounterMode", "\n".join(parts))


def training_page(root: Path) -> Page:
    parts = ["# Training and experiments\n",
             "Accuracy measured by training the real models on the embedded digits (scikit-learn's 1,797 "
             "8x8 digits, 20% held out), beside flopcalc's exact multiply-adds and parameters of the model "
             "trained. Read from the results files the runs wrote (`flopcalc train`, `flopcalc experiment`), "
             "committed under `experiments/` and `data/`.\n"]
    runs = root / DATA / "train_results.jsonl"
    headline = []
    if runs.exists():
        recs = [json.loads(x) for x in runs.read_text().splitlines()]
        rows = [{"model": r["model"], "alpha": r["config"]["alpha"], "resolution": r["config"]["resolution"][0],
                 "params": r["params"],
                 "macs": r["macs"], "epochs": r["epochs"], "final_top1": r["final_top1"], "best_top1": r["best_top1"],
                 "train_seconds": r["train_seconds"], "images_per_second": r["images_per_second"]} for r in recs]
        parts.append("## `flopcalc train` with the defaults\n\n" + table(
            (Col("model"), Col("alpha", "multiplier"), Col("resolution", "int"), Col("params", "int"),
             Col("macs", "int"), Col("epochs", "int"), Col("final_top1", show=pct), Col("best_top1", show=pct),
             Col("train_seconds", "float", digits=1), Col("images_per_second", "float", digits=0)), rows))
        headline.append(", ".join(f"{r['model']} {r['config']['alpha']:g}: {pct(r['final_top1'])}" for r in recs))
    exp_root = root / EXPERIMENTS_DIR
    for name in ("width", "resolution", "v1-vs-v2", "relu6-int8", "augment"):
        path = exp_root / name / "results.jsonl"
        if not path.exists():
            continue
        from .views.training import experiment_document as document, summarize
        recs = [json.loads(x) for x in path.read_text().splitlines()]
        s = summarize(name, recs[0]["data"], recs[0]["epochs"], len({r["seed"] for r in recs}), recs,
                      recs[0].get("subset"))
        parts.append(f"## Experiment `{name}`\n\n`flopcalc experiment {name} --out reports/experiments/{name}` "
                     f"({s['epochs']} epochs, {s['seeds']} seeds each; [its own page](experiments/{name}/README.md))"
                     f"\n\n" + gh(document(s)) + "\n" + figure(f"experiments/{name}/accuracy_vs_macs.png",
                                                                f"{name}: held-out top-1 against multiply-adds"))
    if len(parts) == 2:  # neither train results nor experiments
        parts.append("(not recorded yet)\n")
    return Page("training.md", "Training and experiments", "; ".join(headline) or "not recorded yet",
                "\n".join(parts))


def _ms(v) -> str:
    return "" if v is None else f"{v:.2f}"


def latency_page(root: Path) -> Page:
    """From ``data/bench_*.json`` (``flopcalc bench ... --per-layer --compare --format json``) and
    ``data/bench_grid.json`` (``flopcalc bench --grid --predict --format json``)."""
    runs = [_load_json(p) for p in sorted((root / DATA).glob("bench_mobilenet_*.json"))]
    grid = _load_json(root / DATA / "bench_grid.json")
    parts = ["# Latency\n",
             "MAdds are not time. Measured with `flopcalc bench` on the real models (median of repeats after "
             "warm-up, inference mode, float32), beside the roofline `max(2 MAdds / peak, bytes / bandwidth)` and "
             "the calibrated prediction of `flopcalc machine` (per-kind efficiency measured on random layers and "
             "off-grid networks, never on the configs predicted). Recorded by `flopcalc report --record`.\n"]
    if not runs and grid is None:
        return Page("latency.md", "Latency", "not recorded yet", "\n".join(parts + ["(not recorded yet)\n"]))
    machine = (runs[0] if runs else grid)["machine"]
    parts.append(f"The machine, by its measured figures only: **{machine['peak_gflops']:.0f} GFLOP/s** float32 "
                 f"matrix-multiply peak, **{machine['bandwidth_gbs']:.1f} GB/s** copy bandwidth, "
                 f"{(runs[0] if runs else {'threads': machine['threads']})['threads']} threads.\n")
    headline = []
    plots = []
    for doc in runs:
        c = doc["config"]
        parts.append(f"## {doc['model']} alpha {c['alpha']:g} at {c['resolution'][0]}, batch {c['batch']}\n")
        parts.append(table((Col("backend"), Col("mode"), Col("measured_ms", "float", digits=2),
                            Col("images_per_second", "float", digits=1), Col("fraction_of_peak", "pct"),
                            Col("speedup", show=lambda v: f"{v:.2f}x")), doc["runs"]))
        opt = next((r for r in doc["runs"] if r["mode"] == "optimized"), doc["runs"][0])
        eager = next((r for r in doc["runs"] if r["mode"] == "eager"), None)
        ort = next((r for r in doc["runs"] if r["mode"] == "onnxruntime"), None)
        line = (f"Optimized (batch norm folded, channels-last): {opt['images_per_second']:.1f} images/s"
                + (f", {opt['speedup']:.2f}x the plain eager model" if eager else "")
                + f"; {100 * opt['fraction_of_peak']:.1f}% of the matmul peak"
                + (f"; ONNX Runtime {ort['images_per_second']:.1f} images/s" if ort else "") + ". "
                + f"Whole model: measured {_ms(doc['measured_ms'])} ms, predicted {_ms(doc['predicted_ms'])} ms "
                  f"({100 * (doc['predicted_ms'] / doc['measured_ms'] - 1):+.1f}%), roofline "
                  f"{_ms(doc['roofline_ms'])} ms.")
        parts.append("\n" + line + "\n")
        if doc["layers"]:
            parts.append(f"Per layer ({len(doc['layers'])} layers): rank correlation (Spearman) of measured times "
                         f"with the roofline **{doc['rank_correlation']:.3f}**, with the calibrated prediction "
                         f"**{doc['rank_correlation_calibrated']:.3f}**.\n")
            by_kind = {}
            for x in doc["layers"]:
                k = by_kind.setdefault(x["kind"], {"kind": x["kind"], "layers": 0, "macs": 0, "measured_ms": 0.0,
                                                   "roofline_ms": 0.0, "predicted_ms": 0.0})
                k["layers"] += 1
                k["macs"] += x["macs"]
                for key in ("measured_ms", "roofline_ms", "predicted_ms"):
                    k[key] += x[key] or 0.0
            kinds = sorted(by_kind.values(), key=lambda k: -k["measured_ms"])
            total_ms = sum(k["measured_ms"] for k in kinds)
            total_macs = sum(k["macs"] for k in kinds) or 1
            for k in kinds:
                k["share_of_time"], k["share_of_macs"] = k["measured_ms"] / total_ms, k["macs"] / total_macs
            parts.append("By kind: the share of time against the share of MAdds.\n\n" + table(
                (Col("kind"), Col("layers", "int"), Col("macs", "int"), Col("share_of_macs", "pct"),
                 Col("measured_ms", "float", digits=2), Col("share_of_time", "pct"),
                 Col("predicted_ms", "float", digits=2), Col("roofline_ms", "float", digits=2)), kinds))
            name = f"latency_layers_{doc['model']}_{c['batch']}.png"
            parts.append(figure(name, f"{doc['model']} batch {c['batch']}: measured time of each layer against "
                                      "its roofline time and its calibrated prediction (log scales)."))
            plots.append((name, lambda path, d=doc: _draw_layer_times(path, d)))
            parts.append("<details><summary>every layer</summary>\n\n" + table(
                (Col("name"), Col("kind"), Col("macs", "int"), Col("bytes", "int"), Col("bound"),
                 Col("measured_ms", "float", digits=3), Col("predicted_ms", "float", digits=3),
                 Col("roofline_ms", "float", digits=3)), doc["layers"]) + "\n</details>\n")
        headline.append(f"{doc['model']} b{c['batch']} {opt['images_per_second']:.0f} img/s"
                        + (f" ({opt['speedup']:.1f}x eager)" if eager else ""))
    if grid is not None:
        parts.append("## Predicted against measured, the verify grid\n")
        parts.append("`flopcalc bench --grid --predict`: each config's optimized model measured, and predicted "
                     "from the machine profile alone.\n\n" + table(
                         (Col("batch", "int"), Col("configs", "int"), Col("within_15", "pct"),
                          Col("median_abs_error", "pct"), Col("max_abs_error", "pct")), grid["summary"]))
        parts.append(figure("latency_grid.png", "Every grid config: predicted against measured whole-model time "
                                                "(log scales); the band is +-15%."))
        plots.append(("latency_grid.png", lambda path, g=grid: _draw_grid(path, g)))
        parts.append("<details><summary>every config</summary>\n\n" + table(
            (Col("model"), Col("alpha", "multiplier"), Col("resolution", "resolution"),
             Col("batch", "int"), Col("measured_ms", "float", digits=2), Col("predicted_ms", "float", digits=2),
             Col("error", show=lambda v: f"{100 * v:+.1f}%"), Col("images_per_second", "float", digits=1)),
            [flat(rec) for rec in grid["configs"]]) + "\n</details>\n")
        headline += [f"b{x['batch']} {100 * x['within_15']:.0f}% of grid within 15%" for x in grid["summary"]]
    return Page("latency.md", "Latency", "; ".join(headline), "\n".join(parts), plots)


def _draw_layer_times(path: Path, doc: dict) -> None:
    from .plots import pyplot, save
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


def _draw_grid(path: Path, grid: dict) -> None:
    from .plots import pyplot, save
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.5))
    for batch, marker in ((1, "o"), (32, "s")):
        cs = [c for c in grid["configs"] if c["config"]["batch"] == batch]
        ax.scatter([c["measured_ms"] for c in cs], [c["predicted_ms"] for c in cs], s=12, marker=marker,
                   label=f"batch {batch}")
    xs = [c["measured_ms"] for c in grid["configs"]]
    _predicted_against_measured(ax, min(xs) / 1.5, max(xs) * 1.5, band=0.15)
    save(fig, path)


def layers_plot_page() -> Page:
    a = plain("mobilenet_v2")
    text = ("# MobileNet V2, layer by layer\n\n" + figure(
        "v2_layers.png", "MobileNet V2 (alpha 1, 224): multiply-adds and parameters of each conv and fully "
                         "connected layer in execution order; the 1x1 (pointwise) convolutions dominate both.")
            + f"\nPointwise convolutions: {a.by_kind['pointwise'].macs / a.total.macs:.1%} of the multiply-adds, "
              f"{a.by_kind['pointwise'].params / a.total.params:.1%} of the parameters.\n")
    return Page("v2_layers.md", "V2 layer by layer", f"pointwise {a.by_kind['pointwise'].macs / a.total.macs:.1%} "
                "of macs", text, [("v2_layers.png", _draw_layers)])


def _draw_layers(path: Path) -> None:
    from .plots import pyplot, save
    plt = pyplot()
    a = plain("mobilenet_v2")
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


# ------------------------------------------------------------------------ the whole set


def pages(root: Path) -> list[Page]:
    return ([model_page(m, a) for m, a in REPORT_MODELS] + [scaling_page(), conventions_page(root),
            published_page(), verification_page(root), training_page(root), latency_page(root), layers_plot_page()])


def index(ps: list[Page]) -> str:
    lines = ["# flopcalc reports\n", "Generated by `flopcalc report` from the zoo and from recorded runs; "
             "`tests/test_reports.py` regenerates them and fails if anything here is stale.\n"]
    for p in ps:
        lines.append(f"- [{p.title}]({p.name}): {p.headline}")
    return "\n".join(lines) + "\n"


def write(out: str | Path = "reports", *, plots: bool = True) -> list[Path]:
    """Write every report into ``out``, all or nothing."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ReportError(f"--out {str(out)!r} is a file, not a folder")
    ps = pages(out)
    parent = out.parent if out.parent.exists() else None
    with tempfile.TemporaryDirectory(prefix=".flopcalc-report-", dir=parent) as tmp:
        tmp = Path(tmp)
        written = []
        for p in ps:
            (tmp / p.name).write_text(p.text)
            written.append(p.name)
            if plots:
                for file, draw in p.plots:
                    draw(tmp / file)
                    written.append(file)
        (tmp / "README.md").write_text(index(ps))
        written.append("README.md")
        out.mkdir(parents=True, exist_ok=True)
        for name in written:  # every file complete: now put each in place (never replacing a link or a device)
            write_bytes(out / name, (tmp / name).read_bytes())
    return [out / n for n in written]


def missing(root: str | Path) -> list[str]:
    """The recorded inputs not found under ``root``: verify, reconcile, train, bench, experiments."""
    data = Path(root) / DATA
    found = {"verify": (data / "verify_grid.json").exists(),
             "reconcile": any(data.glob("reconcile_*.json")),
             "train": (data / "train_results.jsonl").exists(),
             "bench": any(data.glob("bench_*.json")),
             "experiments": any((Path(root) / EXPERIMENTS_DIR).glob("*/results.jsonl"))}
    return [k for k, ok in found.items() if not ok]


# ------------------------------------------------------------------------ recording the slow inputs

RECORD_STEPS = ("verify", "reconcile", "train", "bench")


def _flopcalc_json(argv: list[str], log, threads: int | None = None) -> dict:
    """Run ``flopcalc ARGV --format json`` in a fresh interpreter (a clean process for timing)."""
    import subprocess
    import sys
    if threads:
        argv = [*argv, "--threads", str(threads)]
    log(f"flopcalc {' '.join(argv)}")
    p = subprocess.run([sys.executable, "-m", "flopcalc", *argv, "--format", "json"], capture_output=True, text=True)
    if p.returncode not in (0, 1) or not p.stdout.strip():
        raise ReportError(f"'flopcalc {' '.join(argv)}' failed (exit {p.returncode}): "
                          f"{(p.stderr.strip().splitlines() or ['no output'])[-1]}")
    return json.loads(p.stdout)


def _save(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(value, indent=1, sort_keys=True) + "\n")


def record(out: str | Path = "reports", steps=RECORD_STEPS, log=print, threads: int | None = None) -> list[Path]:
    """Run the slow, torch-, tool- or machine-dependent commands the reports read, and write
    their JSON under ``out/data/``: ``verify`` (the grid, and the reference kernels' padding
    count for V1 and V2 at 224), ``reconcile`` (every convention with the live tools, per model),
    ``train`` (``flopcalc train`` with the defaults: V1 and V2 at alpha 0.5 on the digits) and
    ``bench`` (V2 at batch 1 and 32 with --per-layer --compare, and the grid; run
    ``flopcalc machine`` first, on a quiet machine)."""
    data = Path(out) / DATA
    written = []
    if "verify" in steps:
        _save(data / "verify_grid.json", _flopcalc_json(["verify", "--grid"], log, threads))
        padding = [_flopcalc_json(["verify", m, "--reference"], log, threads)
                   for m in ("mobilenet_v1", "mobilenet_v2")]
        _save(data / "verify_padding.json", padding)
        written += [data / "verify_grid.json", data / "verify_padding.json"]
    if "reconcile" in steps:
        for model in MODELS:
            _save(data / f"reconcile_{model}.json", _flopcalc_json(["reconcile", model, "--live"], log, threads))
            written.append(data / f"reconcile_{model}.json")
    if "train" in steps:
        lines = []
        with tempfile.TemporaryDirectory() as tmp:
            for model in ("mobilenet_v1", "mobilenet_v2"):
                _flopcalc_json(["train", model, "--alpha", "0.5", "--data", "digits", "--out", f"{tmp}/{model}",
                                "--quiet"], log, threads)
                lines += (Path(tmp) / model / "results.jsonl").read_text().splitlines()
        data.mkdir(parents=True, exist_ok=True)
        write_text(data / "train_results.jsonl", "".join(x + "\n" for x in lines))
        written.append(data / "train_results.jsonl")
    if "bench" in steps:
        for batch in (1, 32):
            path = data / f"bench_mobilenet_v2_b{batch:02d}.json"
            _save(path, _flopcalc_json(["bench", "mobilenet_v2", "--batch", str(batch), "--per-layer", "--compare",
                                        "--quiet"], log, threads))
            written.append(path)
        _save(data / "bench_grid.json", _flopcalc_json(["bench", "--grid", "--predict", "--quiet"], log, threads))
        written.append(data / "bench_grid.json")
    return written

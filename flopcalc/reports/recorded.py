"""The recorded pages: verification, training and experiments, latency, torchvision's and timm's models.
They read only the JSON the slow commands wrote (:data:`.markdown.RECORDED`), never the torch side, so
they regenerate anywhere."""

from __future__ import annotations

from pathlib import Path

from ..output import Col, percent
from ..views.latency import GRID_SUMMARY_COLS, bench_grid_cols
from ..views.records import flat
from ..views.verify import VERIFY_GRID_COLS
from ..views.training import EXPERIMENTS, experiment_document, summarize
from . import figures
from .markdown import Page, figure, github_markdown, load_recorded, read_recorded, recorded_files, table


def verification_page(root: Path) -> Page:
    grid = load_recorded(root, "verify_grid")
    padding = load_recorded(root, "verify_padding")
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
    parts.append(table(VERIFY_GRID_COLS, [flat(c) for c in configs]))
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
    recs = load_recorded(root, "train")
    headline = []
    if recs is not None:
        rows = [{"model": r["model"], "alpha": r["config"]["alpha"], "resolution": r["config"]["resolution"][0],
                 "params": r["params"],
                 "macs": r["macs"], "epochs": r["epochs"], "final_top1": r["final_top1"], "best_top1": r["best_top1"],
                 "train_seconds": r["train_seconds"], "images_per_second": r["images_per_second"]} for r in recs]
        parts.append("## `flopcalc train` with the defaults\n\n" + table(
            (Col("model"), Col("alpha", "multiplier"), Col("resolution", "int"), Col("params", "int"),
             Col("macs", "int"), Col("epochs", "int"), Col("final_top1", show=percent), Col("best_top1", show=percent),
             Col("train_seconds", "float", digits=1), Col("images_per_second", "float", digits=0)), rows))
        headline.append(", ".join(f"{r['model']} {r['config']['alpha']:g}: {percent(r['final_top1'])}" for r in recs))
    for name in EXPERIMENTS:
        recs = load_recorded(root, "experiment", name=name)
        if recs is None:
            continue
        s = summarize(name, recs[0]["data"], recs[0]["epochs"], len({r["seed"] for r in recs}), recs,
                      recs[0].get("subset"))
        parts.append(f"## Experiment `{name}`\n\n`flopcalc experiment {name} --out reports/experiments/{name}` "
                     f"({s['epochs']} epochs, {s['seeds']} seeds each; [its own page](experiments/{name}/README.md))"
                     f"\n\n" + github_markdown(experiment_document(s)) + "\n"
                     + figure(f"experiments/{name}/accuracy_vs_macs.png",
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
    runs = [read_recorded(p) for p in recorded_files(root, "bench")]
    grid = load_recorded(root, "bench_grid")
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
        parts.append(table((Col("backend"), Col("mode"), Col("measured_ms", "ms"),
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
                 Col("measured_ms", "ms"), Col("share_of_time", "pct"),
                 Col("predicted_ms", "ms"), Col("roofline_ms", "ms")), kinds))
            name = f"latency_layers_{doc['model']}_{c['batch']}.png"
            parts.append(figure(name, f"{doc['model']} batch {c['batch']}: measured time of each layer against "
                                      "its roofline time and its calibrated prediction (log scales)."))
            plots.append((name, lambda path, d=doc: figures.draw_layer_times(path, d)))
            parts.append("<details><summary>every layer</summary>\n\n" + table(
                (Col("name"), Col("kind"), Col("macs", "int"), Col("bytes", "int"), Col("bound"),
                 Col("measured_ms", "ms", digits=3), Col("predicted_ms", "ms", digits=3),
                 Col("roofline_ms", "ms", digits=3)), doc["layers"]) + "\n</details>\n")
        headline.append(f"{doc['model']} b{c['batch']} {opt['images_per_second']:.0f} img/s"
                        + (f" ({opt['speedup']:.1f}x eager)" if eager else ""))
    if grid is not None:
        parts.append("## Predicted against measured, the verify grid\n")
        parts.append("`flopcalc bench --grid --predict`: each config's optimized model measured, and predicted "
                     "from the machine profile alone.\n\n" + table(
                         GRID_SUMMARY_COLS, grid["summary"]))
        parts.append(figure("latency_grid.png", "Every grid config: predicted against measured whole-model time "
                                                "(log scales); the band is +-15%."))
        plots.append(("latency_grid.png", lambda path, g=grid: figures.draw_grid(path, g)))
        parts.append("<details><summary>every config</summary>\n\n" + table(
            bench_grid_cols(), [flat(rec) for rec in grid["configs"]]) + "\n</details>\n")
        headline += [f"b{x['batch']} {100 * x['within_15']:.0f}% of grid within 15%" for x in grid["summary"]]
    recs = load_recorded(root, "experiment", name="backends")
    if recs is not None:
        from ..views.backends import backends_document, summarize as summarize_backends
        s = summarize_backends(recs)
        parts.append("## The same models on each engine\n\n`flopcalc experiment backends --out "
                     "reports/experiments/backends` ([its own page](experiments/backends/README.md))\n\n"
                     + github_markdown(backends_document(s)) + "\n"
                     + figure("experiments/backends/throughput.png", "Images/s of each model on each engine")
                     + figure("experiments/backends/time_vs_macs.png",
                              "Each kind's share of the time against its share of the multiply-adds"))
        headline += [f"fastest float32 {f['model']} b{f['batch']}: {f['engine']}" for f in s["fastest"]
                     if f["dtype"] == "float32" and f["model"] == "mobilenet_v2"]
    return Page("latency.md", "Latency", "; ".join(headline), "\n".join(parts), plots)


# the tools of reports/ZOO_counts.md, in their columns' order
COUNTED_TOOLS = ("fvcore", "flop_counter", "ptflops", "ptflops_aten", "thop", "torchinfo", "torchprofile",
                 "calflops")
SIZES_NOTE = """torchprofile counts the operations of a torch.jit trace, and a trace records a model's own
arithmetic on sizes (`n_h * n_w` in torchvision's ViT, the window counts in Swin's shifted windows) as
`aten::mul` of a one-element tensor, which it charges 1 each. flopcalc's recording hands the model sizes
that remember the products they came from, and counts those that reach an operation (its `sizes`
cause); the four inside `nn.MultiheadAttention`'s own forward (torch's code, which a function mode does
not see into) are charged to each call."""
TIMM_NOTE = """timm's families were the check on models flopcalc had not seen: the first run missed 55 tool
totals and could not count 5 models. What it taught is in the recorder and the conventions now (batch
norm of any rank and over B * L rows, padding "same", weights standardized by a training-mode batch norm
once per run, convolutions, attention and activations over B * n maps, the CPU's math path for
attention with a 3-dimensional or learned mask, parameters read by an operation without a formula,
recurrent layers, a view's strides as torch gives them, sizes divided by sizes, thop's own-parameter
rule, ptflops' rule for timm's ViT attention and its stop at a mapped module, torchprofile's handler for
leaky ReLU but not for it in place). A cell with `vs` is a tool's total not reproduced: torchprofile on
NF-Net and NASNet, 10 and 56 one-element multiplications from timm's `get_same_padding`, whose branch
for sizes that are tensors only a trace takes."""
# each collection tools/model_counts.py counts: its page's title, what it holds, what is left
ZOOS = {
    "torchvision": ("Every torchvision model, against every tool",
                    "Every torchvision classification model (`list_models(module=torchvision.models)`), at "
                    "224 x 224 (299 for inception_v3), 1000 classes.", ""),
    "timm": ("A model of every timm family, against every tool",
             "One model of each timm family (the smallest variant; `TIMM_MODELS` in the tool), at the input its "
             "`pretrained_cfg` declares, as `flopcalc table timm:NAME` counts it without `--input`.", TIMM_NOTE),
}


def _cell(e: dict | None) -> str:
    if e is None or "live" not in e:
        return ""
    if "error" in e["live"]:
        return "fails"
    if "flopcalc" not in e:
        return f"{e['live']['ops']:,} (no convention)"
    if e["ops_equal"] and e["params_equal"]:
        return f"{e['live']['ops']:,} ="
    return (f"{e['live']['ops']:,} vs {e['flopcalc']['ops']:,}"
            + ("" if e["params_equal"] else f" (params {e['live']['params']:,} vs {e['flopcalc']['params']:,})"))


def _counts_markdown(zoo: str, rec: dict) -> str:
    v = rec["versions"]
    title, holds, note = ZOOS[zoo]
    lines = [f"# {title}",
             "",
             f"Written by `tools/model_counts.py --zoo {zoo}` (torch {v['torch']}, {zoo} {v[zoo]}). {holds} "
             "Each cell is the tool's live total; `=` where flopcalc's convention of that tool prints the same "
             "number exactly, else flopcalc's number beside it; `fails` where the tool cannot count the model. "
             "`params` is `sum(p.numel())`; `pytorch` is flopcalc's own count (multiply-adds of conv, linear, "
             "matmul and attention).",
             "",
             "## Exact, per tool", "",
             "| tool | models it counts | flopcalc's convention prints the same total | params too |",
             "|---|---:|---:|---:|"]
    for tool in COUNTED_TOOLS:
        counted = [m["conventions"][tool] for m in rec["models"].values() if "error" not in m
                   and tool in m["conventions"] and "error" not in m["conventions"][tool].get("live", {"error": 1})]
        lines.append(f"| {tool} | {len(counted)} | {sum(bool(e.get('ops_equal')) for e in counted)} | "
                     f"{sum(bool(e.get('params_equal')) for e in counted)} |")
    lines += ["", SIZES_NOTE] + (["", note] if note else []) + ["", "## Every model", "",
              "| model | input | params | pytorch | uncounted | " + " | ".join(COUNTED_TOOLS) + " |",
              "|---|---|---:|---:|---|" + "---:|" * len(COUNTED_TOOLS)]
    for name, m in rec["models"].items():
        if "error" in m:
            lines.append(f"| {name} | {m['error']} |")
            continue
        shape = "x".join(map(str, m["input"])) if "input" in m else ""
        unc = ", ".join(f"{op} x{u['calls']}" for op, u in m["uncounted"].items()) or "none"
        lines.append(f"| {name} | {shape} | {m['numel']:,} | {m['macs']:,} | {unc} | "
                     + " | ".join(_cell(m["conventions"].get(t)) for t in COUNTED_TOOLS) + " |")
    return "\n".join(lines) + "\n"


def counts_page(root: Path, zoo: str) -> Page:
    """A collection of models nobody here wrote (torchvision's, timm's), counted by each tool live and by
    flopcalc's convention of it (tools/model_counts.py records it, where the collection is installed)."""
    title = ZOOS[zoo][0]
    rec = load_recorded(root, zoo)
    if rec is None:
        return Page(f"{zoo}_counts.md", title, "not recorded yet", f"# {title}\n\n(not recorded yet)\n")
    models = [m for m in rec["models"].values() if "error" not in m]
    exact = []
    for t in COUNTED_TOOLS:
        counted = [m["conventions"][t] for m in models
                   if "error" not in m["conventions"].get(t, {}).get("live", {"error": 1})]
        exact.append(all(e.get("ops_equal") and e.get("params_equal") for e in counted))
    return Page(f"{zoo}_counts.md", title,
                f"{sum(exact)} of {len(COUNTED_TOOLS)} tools reproduced exactly on every one of the {len(models)} "
                "models they count", _counts_markdown(zoo, rec))

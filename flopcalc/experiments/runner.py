"""Running an experiment: each trial trained (``flopcalc train``, resumable), the int8 copies
measured for ``relu6-int8``, ``DIR/results.jsonl`` one line per trained model, then the table and
the plot. Run again with the same ``--out`` and it goes on where it stopped."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..errors import UserError
from ..files import remove_stale_temporaries, write_text
from .plan import DEFAULT_EPOCHS, DEFAULT_SEEDS, ExperimentError, trials

def load_results(path: Path, key: str = "trial") -> dict[str, dict]:
    """An experiment's results.jsonl by each record's ``key`` (a line cut short by a kill is skipped)."""
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            out[rec[key]] = rec
    return out


def _quantized(record: dict, run_dir: Path, source) -> dict:
    """int8 copies of the trained model, calibrated and at a fixed [0, 6] range: top-1, drop,
    size, images/s, and how far their outputs are from the float model's on the same images."""
    import torch
    from torch.utils.data import DataLoader
    from ..training import checkpoint as ckpt
    from ..training.checkpoint import model_from_checkpoint
    from ..training.evaluate import evaluate_model
    from .quantize import images_per_second, quantize, size_bytes

    doc = ckpt.load(run_dir / "checkpoint.pt")
    net = model_from_checkpoint(run_dir / "checkpoint.pt", doc)
    net.eval()
    train, test = source.with_transforms(doc["config"]["resolution"])
    g = torch.Generator().manual_seed(0)
    calib = [x for x, _ in DataLoader(train, batch_size=64, shuffle=True, generator=g)][:8]  # 512 images
    test_loader = DataLoader(test, batch_size=256)
    x = torch.cat([b for b, _ in test_loader])
    with torch.inference_mode():
        ref = net(x)
    out = {"float_top1": evaluate_model(net, test_loader)["top1"], "float_size_bytes": size_bytes(net),
           "float_images_per_second": images_per_second(net, x)}
    for label, fixed in (("int8", None), ("int8_fixed", 6.0)):
        q = quantize(net, calib, fixed_range=fixed)
        with torch.inference_mode():
            y = q(x)
        out[f"{label}_top1"] = evaluate_model(q, test_loader)["top1"]
        out[f"{label}_drop"] = out["float_top1"] - out[f"{label}_top1"]
        out[f"{label}_agreement"] = float((y.argmax(1) == ref.argmax(1)).float().mean())  # same class as float
        out[f"{label}_max_logit_error"] = float((y - ref).abs().max())
        out[f"{label}_size_bytes"] = size_bytes(q)
        out[f"{label}_images_per_second"] = images_per_second(q, x)
    return out


def run(name: str, data: str, out: str | Path, *, epochs: int = DEFAULT_EPOCHS, seeds: int = DEFAULT_SEEDS,
        subset: int | None = None, progress: bool | None = None, threads: int | None = None,
        log=None) -> tuple[dict, int]:
    """Run (or finish) experiment ``name``; return its summary and how many trials this run trained
    (0 when every trial was already done: then nothing was timed now)."""
    log = log or sys.stderr
    from ..training.data import open_source
    from ..training.loop import Recipe, RunConfig, train

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ExperimentError(f"--out {str(out)!r} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    source = open_source(data, subset)
    plan = [(t, s) for t in trials(name, source) for s in range(seeds)]
    if any(t.quantize for t, _ in plan):
        from .quantize import engine
        engine()  # no int8 engine: say so before training anything
    results_path = out / "results.jsonl"
    for written in ("results.jsonl", "README.md", "accuracy_vs_macs.png"):  # an experiment killed mid-write
        remove_stale_temporaries(out / written)
    done = load_results(results_path)
    for rec in done.values():  # a folder of another setting is refused, never relabelled
        theirs = (rec.get("data"), rec.get("epochs"), rec.get("subset"))
        if theirs != (data, epochs, subset):
            raise ExperimentError(
                f"--out {str(out)!r} holds results of another setting (data {theirs[0]}, epochs {theirs[1]}, "
                f"subset {theirs[2] or 'none'}; asked: data {data}, epochs {epochs}, subset {subset or 'none'}); "
                "give another --out, or the same settings to go on")
    trained = 0
    for i, (trial, seed) in enumerate(plan, 1):
        key = trial.key(seed)
        if key in done:
            continue
        trained += 1
        run_dir = out / "runs" / key
        t0 = time.perf_counter()
        summary = train(RunConfig(trial.model, data, str(run_dir), trial.alpha, trial.resolution, None,
                                  Recipe(epochs=epochs, seed=seed, **trial.recipe), resume=True, subset=subset,
                                  progress=progress, threads=threads)).record
        record = {"experiment": name, "trial": key, "group": trial.group, "series": trial.series,
                  "label": trial.label, "seed": seed, "model": summary["model"], "config": summary["config"],
                  "data": data,
                  "epochs": epochs, "subset": subset, "recipe": summary["recipe"], "params": summary["params"],
                  "macs": summary["macs"], "top1": summary["final_top1"], "top5": summary["final_top5"],
                  "best_top1": summary["best_top1"], "train_seconds": summary["train_seconds"],
                  "images_per_second": summary["images_per_second"]}
        if trial.quantize:
            record.update(_quantized(record, run_dir, open_source(data, subset)))
        done[key] = record
        write_text(results_path, "".join(json.dumps(done[k]) + "\n" for k in done))
        print(f"[{i}/{len(plan)}] {trial.group} seed {seed}: top-1 {100 * record['top1']:.2f}%"
              + (f", int8 {100 * record['int8_top1']:.2f}%" if trial.quantize else "")
              + f" ({time.perf_counter() - t0:.0f} s)", file=log, flush=True)
    records = [done[t.key(s)] for t, s in plan]
    from ..views.training import summarize
    summary = summarize(name, data, epochs, seeds, records, subset)
    write_outputs(out, summary)
    return summary, trained


def write_outputs(out: Path, summary: dict) -> None:
    """DIR/README.md (the table) and DIR/accuracy_vs_macs.png (the plot), atomically."""
    from ..output import render
    from ..views.training import experiment_document
    doc = experiment_document(summary)
    text = f"# {doc.heading}\n\n" + render(doc, "github", heading=False)
    trained = summary.get("train_seconds_total")
    subset = f" --subset {summary['subset']}" if summary.get("subset") else ""
    text += (f"\nMade by `flopcalc experiment {summary['experiment']} --data {summary['data']} --epochs "
             f"{summary['epochs']} --seeds {summary['seeds']}{subset} --out DIR`"
             + (f": {summary['models']} models trained in {trained:,.0f} s in all (the sum of their `train_seconds` "
                "in `results.jsonl`)" if trained is not None else "") + ".\n")
    text += "\n![accuracy against multiply-adds](accuracy_vs_macs.png)\n\n" \
            "*Held-out top-1 (mean over seeds, bars: one standard deviation) against flopcalc's multiply-adds.*\n"
    write_text(out / "README.md", text)
    try:
        from ..plots import accuracy_vs_macs
    except ImportError:  # pragma: no cover
        return
    series: dict[str, list] = {}
    for r in summary["groups"]:
        series.setdefault(r["series"], []).append((r["macs"], 100 * r["top1_mean"], 100 * (r["top1_std"] or 0.0),
                                                   r["label"]))
    try:
        accuracy_vs_macs(series, out / "accuracy_vs_macs.png", f"{summary['experiment']} on {summary['data']}",
                         logx=summary["experiment"] not in ("relu6-int8", "augment"))
    except UserError as e:  # matplotlib missing: the table still stands
        print(f"flopcalc: {e}; no plot", file=sys.stderr)

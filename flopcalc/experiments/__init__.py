"""``flopcalc experiment NAME``: the MobileNet papers' claims, trained end to end on real data,
measured accuracy beside flopcalc's exact multiply-adds and parameters.

- ``width``: alpha in {0.35, 0.5, 0.75, 1.0, 1.4} for V1 and V2;
- ``resolution``: the input size swept (digits upscaled to 8, 16, 24, 32);
- ``v1-vs-v2``: V1 and V2 configs matched in multiply-adds (``flopcalc budget --near``);
- ``relu6-int8``: V2 with ReLU6 and with ReLU, float32 against int8 (post-training static
  quantization, calibrated, and with a fixed activation range);
- ``augment``: the default recipe against MixUp and CutMix.

Each trial is one ``flopcalc train`` run (``DIR/runs/<trial>/``) for each of ``seeds`` seeds;
``DIR/results.jsonl`` gets one line per trained model, ``DIR/README.md`` the table (mean and
spread over seeds) and ``DIR/accuracy_vs_macs.png`` the plot. Run again with the same ``--out``
and it goes on where it stopped: finished trials are read back, a killed one resumes.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import UserError
from ..family import Family
from ..files import write_text
from ..views.training import EXPERIMENTS
from ..zoo import MOBILENET_V2

__all__ = ["EXPERIMENTS", "ExperimentError", "Trial", "relu_v2", "run", "trials", "write_outputs"]
DEFAULT_EPOCHS = 20  # half of train's 40: 30 models in under 15 minutes on 2 cores
DEFAULT_SEEDS = 3


class ExperimentError(UserError):
    pass


@dataclass(frozen=True)
class Trial:
    """One model to train (for each seed): ``group`` is its row in the table."""

    group: str
    model: object                      # a zoo name or a Family
    alpha: float
    resolution: int | None = None
    recipe: dict = field(default_factory=dict)
    quantize: bool = False
    label: str = ""                    # the point's label in the plot
    series: str = ""                   # the plot's line

    def key(self, seed: int) -> str:
        return f"{self.group.replace(' ', '_').replace('=', '')}-seed{seed}"


def relu_v2() -> Family:
    """MobileNet V2 with ReLU in place of ReLU6, otherwise the same network."""
    from ..spec import Act
    stages = tuple(replace(s, act=Act.RELU) for s in MOBILENET_V2.stages)
    return replace(MOBILENET_V2, name="mobilenet_v2_relu", title="MobileNet V2 with ReLU",
                   stem=replace(MOBILENET_V2.stem, act=Act.RELU), stages=stages,
                   head=replace(MOBILENET_V2.head, conv_act=Act.RELU))


def _sizes(source_name: str) -> tuple[int, ...]:
    return {"digits": (8, 16, 24, 32), "cifar10": (16, 24, 32)}.get(source_name, (128, 160, 192, 224))


def trials(name: str, source) -> list[Trial]:
    native = source.default_resolution()
    if name == "width":
        return [Trial(f"{m} alpha={a:g}", m, a, label=f"{a:g}", series=m)
                for m in ("mobilenet_v1", "mobilenet_v2") for a in (0.35, 0.5, 0.75, 1.0, 1.4)]
    if name == "resolution":
        return [Trial(f"mobilenet_v2 alpha=0.5 resolution={r}", "mobilenet_v2", 0.5, r, label=str(r),
                      series="mobilenet_v2 alpha=0.5") for r in _sizes(source.name)]
    if name == "v1-vs-v2":
        from ..sweep import all_points, near
        fine = [round(0.1 + 0.01 * i, 2) for i in range(191)]  # V1's width in steps of 0.01
        out = []
        for v2_alpha in (0.35, 0.75, 1.4):  # three costs, V2's at these widths; V1's nearest width
            small, k = native <= 64, len(source.classes)
            v2 = all_points(["mobilenet_v2"], [native], (v2_alpha,), small_input=small, num_classes=k)[0]
            v1 = near(all_points(["mobilenet_v1"], [native], fine, small_input=small, num_classes=k),
                      v2.macs, 1)[0].point
            for p in (v1, v2):
                out.append(Trial(f"{p.model} alpha={p.alpha:g} (pair {v2_alpha:g})", p.model, p.alpha,
                                 label=f"{p.alpha:g}", series=p.model))
        return out
    if name == "relu6-int8":
        return [Trial("mobilenet_v2 alpha=0.5 ReLU6", "mobilenet_v2", 0.5, quantize=True, series="ReLU6",
                      label="ReLU6"),
                Trial("mobilenet_v2 alpha=0.5 ReLU", relu_v2(), 0.5, quantize=True, series="ReLU", label="ReLU")]
    if name == "augment":
        return [Trial(f"mobilenet_v2 alpha=0.5 {aug}", "mobilenet_v2", 0.5, recipe={"augment": aug}, series=aug,
                      label=aug) for aug in ("none", "mixup", "cutmix")]
    raise ExperimentError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}")


def _load(path: Path) -> dict[str, dict]:
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            out[rec["trial"]] = rec
    return out


def _quantized(record: dict, run_dir: Path, source) -> dict:
    """int8 copies of the trained model, calibrated and at a fixed [0, 6] range: top-1, drop,
    size, images/s, and how far their outputs are from the float model's on the same images."""
    import torch
    from torch.utils.data import DataLoader
    from ..training import checkpoint as ckpt
    from ..training.loop import evaluate_model, model_from_checkpoint
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
    done = _load(results_path)
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

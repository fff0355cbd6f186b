"""``train``, ``evaluate``, ``predict`` and ``experiment`` as Documents, and the experiments'
summary over seeds (pure Python: the reports read results without the torch side)."""

from __future__ import annotations

from ..output import Col, Document, Table, percent
from ..stats import mean_spread

# the experiments (flopcalc experiment NAME), in the order the command lists and the reports show them
EXPERIMENTS = ("width", "resolution", "v1-vs-v2", "relu6-int8", "augment")


def points(v: float) -> str:
    """A difference of two shares in percentage points: 0.0123 as ``1.23``."""
    return f"{100 * v:.2f}"


EPOCH_COLS = (Col("epoch", "int"), Col("train_loss", "float"), Col("train_top1", show=percent),
              Col("test_top1", show=percent), Col("test_top5", show=percent), Col("lr", "float", digits=5),
              Col("seconds", "float", digits=1), Col("images_per_second", "float", digits=0))


def train_document(record: dict, history: list[dict]) -> Document:
    r, c = record, record["config"]
    heading = (f"{r['model']}  alpha={c['alpha']:g}  input={c['resolution'][0]}x{c['resolution'][1]}"
               f"{'  small_input' if c['small_input'] else ''}  data={r['data']}  classes={c['num_classes']}")
    summary = (f"best test top-1 {percent(r['best_top1'])} (epoch {r['best_epoch']} of {r['epochs']}), final "
               f"{percent(r['final_top1'])}, top-5 {percent(r['final_top5'])}; {r['params']:,} params, "
               f"{r['macs']:,} macs per image (flopcalc's count of exactly this model); "
               f"{r['train_seconds']:.1f} s training, {r['images_per_second']:.0f} images/s"
               + (f", {r['processes']} processes" if r["processes"] > 1 else ""))
    return Document("train", {"run": r, "epochs": history}, heading, [Table(EPOCH_COLS, history)],
                    [summary])


def evaluate_document(result: dict) -> Document:
    c = result["config"]
    row = {"model": result["model"], "alpha": c["alpha"], "resolution": c["resolution"], "data": result["data"],
           "images": result["images"], "top1": result["top1"], "top5": result["top5"],
           "images_per_second": result["images_per_second"]}
    cols = (Col("model"), Col("alpha", "multiplier"), Col("resolution", "shape"), Col("data"),
            Col("images", "int"), Col("top1", show=percent), Col("top5", show=percent),
            Col("images_per_second", "float", digits=0))
    return Document("evaluate", result, f"checkpoint {result['checkpoint']}", [Table(cols, [row])],
                    ["top1, top5: the share of images whose class is the model's first, or among its first five."])


def predict_document(result: dict) -> Document:
    rows = [{"image": p["image"], **t} for p in result["predictions"] for t in p["top"]]
    cols = (Col("image"), Col("rank", "int"), Col("class", "int"), Col("name"),
            Col("probability", "float", digits=4))
    c = result["config"]
    return Document("predict", result, f"checkpoint {result['checkpoint']}: {result['model']} alpha={c['alpha']:g} "
                                       f"classes={c['num_classes']} input={c['resolution'][0]}x{c['resolution'][1]}",
                    [Table(cols, rows)])


def summarize(name: str, data: str, epochs: int, seeds: int, records: list[dict],
              subset: int | None = None) -> dict:
    import statistics  # here, not at the top: the command line imports this module at start-up
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(r["group"], []).append(r)
    rows = []
    for group, rs in groups.items():
        mean, spread = mean_spread([r["top1"] for r in rs])
        row = {"group": group, "series": rs[0]["series"], "label": rs[0]["label"], "model": rs[0]["model"],
               "config": rs[0]["config"], "params": rs[0]["params"],
               "macs": rs[0]["macs"], "top1_mean": mean, "top1_std": spread, "seeds": len(rs),
               "train_seconds_mean": statistics.fmean(r["train_seconds"] for r in rs)}
        for key in ("int8_top1", "int8_drop", "int8_fixed_top1", "int8_fixed_drop", "int8_agreement",
                    "int8_fixed_agreement"):
            if key in rs[0]:
                row[f"{key}_mean"], row[f"{key}_std"] = mean_spread([r[key] for r in rs])
        for key in ("float_size_bytes", "int8_size_bytes", "float_images_per_second", "int8_images_per_second"):
            if key in rs[0]:
                row[key] = statistics.fmean(r[key] for r in rs) if "per_second" in key else rs[0][key]
        rows.append(row)
    return {"experiment": name, "data": data, "epochs": epochs, "seeds": seeds, "subset": subset,
            "models": len(records),
            "train_seconds_total": sum(r["train_seconds"] for r in records), "groups": rows, "trials": records}


def experiment_document(summary: dict):
    cols = [Col("group"), Col("params", "int"), Col("macs", "int"), Col("top1_mean", show=percent),
            Col("top1_std", show=points), Col("seeds", "int")]
    if any("int8_top1_mean" in r for r in summary["groups"]):
        cols += [Col("int8_top1_mean", show=percent), Col("int8_drop_mean", show=points),
                 Col("int8_fixed_top1_mean", show=percent), Col("int8_fixed_drop_mean", show=points),
                 Col("int8_size_bytes", "int"), Col("int8_images_per_second", "float", digits=0),
                 Col("float_images_per_second", "float", digits=0)]
    s = summary
    heading = (f"experiment {s['experiment']}: data={s['data']}, {s['epochs']} epochs, {s['seeds']} seeds each"
               + (f", the first {s['subset']} training images only" if s.get("subset") else ""))
    notes = ["top1_mean: held-out top-1 at the last epoch, mean over seeds; top1_std: its standard deviation "
             "(points); params and macs: flopcalc's exact counts of the model trained (small-input adaptation "
             "included)."]
    if len(cols) > 6:
        notes.append("int8: post-training static quantization (fbgemm, batch norm fused, per-channel weights, "
                     "activations calibrated on 512 training images); int8_fixed: every ReLU / ReLU6 output at a "
                     "fixed [0, 6] range; drop: float top-1 minus int8 top-1 (points).")
    return Document("experiment", summary, heading, [Table(tuple(cols), s["groups"])], notes,
                    csv_table=Table(tuple(Col(k, "float" if isinstance(v, float) else "text") for k, v in
                                          _flat(s["trials"][0]).items() if not isinstance(v, dict)),
                                    [_flat(t) for t in s["trials"]]))


def _flat(trial: dict) -> dict:
    """A trial with its config spread into CSV columns (the resolution as HEIGHTxWIDTH)."""
    c = dict(trial["config"])
    c["resolution"] = "x".join(map(str, c["resolution"]))
    return {**{k: v for k, v in trial.items() if k != "config"}, **c}

"""What ``train``, ``evaluate`` and ``predict`` print, in the one output schema."""

from __future__ import annotations

from ..output import Col, Document, Table


def _pct(v) -> str:
    return "" if v is None else f"{100 * v:.2f}%"


EPOCH_COLS = (Col("epoch", "int"), Col("train_loss", "float"), Col("train_top1", show=_pct),
              Col("test_top1", show=_pct), Col("test_top5", show=_pct), Col("lr", "float", digits=5),
              Col("seconds", "float", digits=1), Col("images_per_second", "float", digits=0))


def train_document(record: dict, history: list[dict]) -> Document:
    r, c = record, record["config"]
    heading = (f"{r['model']}  alpha={c['alpha']:g}  input={c['resolution'][0]}x{c['resolution'][1]}"
               f"{'  small_input' if c['small_input'] else ''}  data={r['data']}  classes={c['num_classes']}")
    summary = (f"best test top-1 {_pct(r['best_top1'])} (epoch {r['best_epoch']} of {r['epochs']}), final "
               f"{_pct(r['final_top1'])}, top-5 {_pct(r['final_top5'])}; {r['params']:,} params, "
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
    cols = (Col("model"), Col("alpha", show=lambda v: f"{v:g}"), Col("resolution", "shape"), Col("data"),
            Col("images", "int"), Col("top1", show=_pct), Col("top5", show=_pct),
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

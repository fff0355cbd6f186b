"""``flopcalc experiment backends`` as a Document: speed per engine and dtype, where the time goes
against where the multiply-adds are, depthwise efficiency, int8's speed-up and the digits' accuracy."""

from __future__ import annotations

from ..output import Col, Document, Table, percent

MODELS = ("mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small")


def summarize(records: list[dict], models=MODELS, engines_=None) -> dict:
    speed = [r for r in records if r.get("kind") == "speed" and r["model"] in models
             and (engines_ is None or r["engine"] in engines_)]
    digits = [r for r in records if r.get("kind") == "digits" and (engines_ is None or r["engine"] in engines_)]
    int8 = []
    for r in speed:
        if r["dtype"] != "int8":
            continue
        f = next((s for s in speed if (s["model"], s["engine"], s["batch"], s["dtype"]) ==
                  (r["model"], r["engine"], r["batch"], "float32")), None)
        if f:
            int8.append({"model": r["model"], "engine": r["engine"], "batch": r["batch"],
                         "float32_ms": f["ms"], "int8_ms": r["ms"], "speedup": f["ms"] / r["ms"]})
    fastest = {}
    for r in speed:
        k = (r["model"], r["batch"], r["dtype"])
        if k not in fastest or r["ms"] < fastest[k]["ms"]:
            fastest[k] = r
    timed = [r for r in speed if r.get("kinds")]
    # the run whose kinds are shown: V2 at its largest batch (32 by default), else the first model timed so
    pick = max(timed, key=lambda r: (r["model"] == "mobilenet_v2", r["batch"]), default=None)
    return {"experiment": "backends", "speed": speed, "digits": digits, "int8": int8,
            "kinds_of": {"model": pick["model"], "batch": pick["batch"]} if pick else None,
            "fastest": [{"model": m, "batch": b, "dtype": d, "engine": r["engine"], "ms": r["ms"],
                         "fraction_of_peak": r["fraction_of_peak"]} for (m, b, d), r in sorted(fastest.items())],
            "peak_gflops": speed[0]["peak_gflops"] if speed else None,
            "bandwidth_gbs": speed[0]["bandwidth_gbs"] if speed else None}


def _agree(check: dict) -> str:
    if check.get("equal") is None:  # random weights and images: the digits' table says how int8 classifies
        return "int8 (see the digits)"
    return "equal" if check["equal"] else "DIFFER"


def backends_document(summary: dict) -> Document:
    speed = summary["speed"]
    rows = [{"model": r["model"], "engine": r["engine"], "dtype": r["dtype"], "batch": r["batch"],
             "ms": r["ms"], "spread": r["spread"], "images_per_second": r["images_per_second"],
             "fraction_of_peak": r["fraction_of_peak"],
             "depthwise_gflops": r.get("depthwise", {}).get("gflops"),
             "depthwise_of_peak": r.get("depthwise", {}).get("fraction_of_peak"),
             "depthwise_gbs": r.get("depthwise", {}).get("gbs"),
             "outputs": _agree(r["check"]), "graph_macs": "= analyzer" if r["graph_macs"] == r["macs"] else
             ("" if r["graph_macs"] is None else f"{r['graph_macs']:,}")} for r in speed]
    tables = [Table((Col("model"), Col("engine"), Col("dtype"), Col("batch", "int"), Col("ms", "float", digits=2),
                     Col("spread", "pct"), Col("images_per_second", "float", digits=1), Col("fraction_of_peak", "pct"),
                     Col("depthwise_gflops", "float", digits=1), Col("depthwise_of_peak", "pct"),
                     Col("depthwise_gbs", "float", digits=1), Col("outputs"), Col("graph_macs")), rows,
                    title="speed: median of repeats (spread: their coefficient of variation); depthwise: the "
                          "depthwise layers' achieved FLOP/s and bytes/s, where the engine times its layers")]
    kinds = []
    of = summary.get("kinds_of") or {}
    for r in speed:
        if (r["model"], r["batch"]) == (of.get("model"), of.get("batch")) and r.get("kinds"):
            for k, v in sorted(r["kinds"].items(), key=lambda kv: -kv[1]["share_of_macs"]):
                if v["share_of_time"] is None or (not v["macs"] and not v["ms"]):
                    continue
                kinds.append({"engine": r["engine"], "dtype": r["dtype"], "kind": k, "layers": v["layers"],
                              "share_of_macs": v["share_of_macs"], "share_of_time": v["share_of_time"],
                              "time_over_macs": v["share_of_time"] / v["share_of_macs"] if v["share_of_macs"]
                              else None})
    if kinds:
        tables.append(Table((Col("engine"), Col("dtype"), Col("kind"), Col("layers", "int"),
                             Col("share_of_macs", "pct"), Col("share_of_time", "pct"),
                             Col("time_over_macs", "float", digits=2)), kinds,
                            title=f"{of.get('model')} at batch {of.get('batch')}: each kind's share of the time "
                                  "against its share of the multiply-adds (time_over_macs above 1: slower per "
                                  "multiply-add than the average)"))
    if summary["int8"]:
        tables.append(Table((Col("model"), Col("engine"), Col("batch", "int"), Col("float32_ms", "float", digits=2),
                             Col("int8_ms", "float", digits=2), Col("speedup", "float", digits=2,
                                                                    show=lambda v: f"{v:.2f}x")),
                            summary["int8"], title="int8 against float32 on the same engine"))
    if summary["digits"]:
        drows = [{"engine": r["engine"], "dtype": r["dtype"], "top1": r["top1"], "drop": r["drop"],
                  "agreement": r["agreement"], "max_logit_error": r["max_logit_error"]} for r in summary["digits"]]
        tables.append(Table((Col("engine"), Col("dtype"), Col("top1", show=percent),
                             Col("drop", show=lambda v: f"{100 * v:+.2f}"), Col("agreement", "pct"),
                             Col("max_logit_error", "float", digits=4)), drows,
                            title=f"accuracy on the held-out digits ({summary['digits'][0]['images']} images), "
                                  f"{summary['digits'][0]['model']} alpha {summary['digits'][0]['alpha']:g} trained "
                                  "once; drop: torch float32's top-1 minus this one's (points); agreement: the same "
                                  "top class as torch float32"))
    notes = []
    if summary.get("peak_gflops"):
        notes.append(f"machine: {summary['peak_gflops']:.0f} GFLOP/s float32 matmul peak, "
                     f"{summary['bandwidth_gbs']:.1f} GB/s copy bandwidth (flopcalc machine)")
    fastest = [f for f in summary["fastest"] if f["dtype"] == "float32"]
    if fastest:
        notes.append("fastest float32 engine: " + "; ".join(
            f"{f['model']} b{f['batch']} {f['engine']} ({100 * f['fraction_of_peak']:.0f}% of peak)" for f in fastest))
    return Document("experiment", summary, "experiment backends: the same MobileNets on each engine, float32 and "
                    "int8, at 224 pixels", tables, notes)

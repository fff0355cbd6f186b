"""Every torchvision classification model, counted by flopcalc under each tool's convention and by
the tool itself, live: the table under ``reports/`` that says where flopcalc reproduces each tool.

torchvision does not import beside the CPU torch build the test suite uses, so this runs in an
environment of its own (several GB: torch 2.14.1 is a CUDA build), from the repository root:

    python3 -m venv /tmp/tv
    /tmp/tv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/tv/bin/pip install fvcore ptflops thop torchinfo torchprofile calflops transformers tabulate
    /tmp/tv/bin/pip install --no-deps -e .
    /tmp/tv/bin/python tools/torchvision_counts.py            # every model; --models resnet50,vit_b_16

The tools' live counts are slow (each runs the real model) and do not depend on flopcalc, so they
are kept in ``build/torchvision_live.jsonl`` and measured once per model and tool (``--fresh``
measures again). flopcalc's side is recomputed every run. Writes ``reports/data/torchvision_counts.json``
(``flopcalc report`` turns it into ``reports/torchvision_counts.md``); exits 1 when a convention misses
a tool's live total.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import traceback
from pathlib import Path

import torch
import torchvision

from flopcalc.conventions import CONVENTIONS, counted_as
from flopcalc.nn import peers
from flopcalc.nn.record import record
from flopcalc.reports.recorded import TV_TOOLS

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "torchvision_live.jsonl"
REPORT = ROOT / "reports" / "data" / "torchvision_counts.json"  # flopcalc report makes its page
TOOLS = TV_TOOLS
SIZES = {"inception_v3": 299}  # the resolution a builder is made for, where it is not 224


def shape_of(name: str) -> tuple[int, ...]:
    s = SIZES.get(name, 224)
    return (1, 3, s, s)


def build(name: str, meta: bool = False) -> torch.nn.Module:
    """The model, its weights uninitialized but zeroed (values change no count; initializing the
    largest ones takes longer than counting them)."""
    try:
        with torch.device("meta"):
            net = torchvision.models.get_model(name, weights=None)
    except NotImplementedError:  # a builder that reads values as it builds (RegNet's widths): a real one
        return torchvision.models.get_model(name, weights=None).eval()
    if meta:
        return net.eval()
    net = net.to_empty(device="cpu")
    with torch.no_grad():
        for t in list(net.parameters()) + list(net.buffers()):
            t.zero_()
    return net.eval()


def live(names: list[str], fresh: bool) -> dict:
    done: dict = {}
    if CACHE.exists() and not fresh:
        for line in CACHE.read_text().splitlines():
            r = json.loads(line)
            done[(r["model"], r["tool"])] = r
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with CACHE.open("a") as out:
        for name in names:
            for tool in TOOLS:
                if (name, tool) in done:
                    continue
                t0 = time.perf_counter()
                try:
                    params, ops = peers.MODULE_TOOLS[tool](build(name), shape_of(name))
                    r = {"model": name, "tool": tool, "params": params, "ops": ops}
                except Exception as e:  # noqa: BLE001  (a tool that cannot count a model is a result)
                    r = {"model": name, "tool": tool, "error": f"{type(e).__name__}: {str(e).strip()[:200]}"}
                r["seconds"] = round(time.perf_counter() - t0, 2)
                done[(name, tool)] = r
                out.write(json.dumps(r) + "\n")
                out.flush()
                print(f"{name:24} {tool:13} {r.get('ops', r.get('error'))}  {r['seconds']} s", flush=True)
                gc.collect()
    return done


def predicted(name: str) -> dict:
    net = build(name, meta=True)
    a = record(net, shape_of(name), name).analysis()
    out = {"params": a.total.params, "numel": sum(p.numel() for p in net.parameters()), "macs": a.total.macs,
           "uncounted": a.uncounted, "conventions": {}}
    for tool in TOOLS:
        conv = next((c for c in CONVENTIONS.values() if c.live == tool), None)
        if conv is None:
            continue
        c = counted_as(a, conv)
        ops = None if c.total.macs is None else c.total.macs * conv.flops_per_mac
        out["conventions"][tool] = {"convention": conv.name, "params": c.total.params, "ops": ops}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", help="comma-separated builders (default: every classification model)")
    ap.add_argument("--fresh", action="store_true", help="measure the tools again")
    ap.add_argument("--no-live", action="store_true", help="only flopcalc's side, with what the cache holds")
    args = ap.parse_args(argv)
    names = args.models.split(",") if args.models else torchvision.models.list_models(module=torchvision.models)
    measured = {} if args.no_live else live(names, args.fresh)
    if args.no_live and CACHE.exists():
        for line in CACHE.read_text().splitlines():
            r = json.loads(line)
            measured[(r["model"], r["tool"])] = r
    models, misses = {}, 0
    for name in names:
        try:
            p = predicted(name)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            models[name] = {"error": f"{type(e).__name__}: {e}"}
            misses += 1
            continue
        for tool in TOOLS:
            m = measured.get((name, tool))
            c = p["conventions"].get(tool)
            if m is None:
                continue
            entry = {"live": {k: m.get(k) for k in ("params", "ops", "error") if m.get(k) is not None}}
            if c is not None:
                entry["flopcalc"] = {"params": c["params"], "ops": c["ops"]}
                if "error" not in m:
                    entry["ops_equal"] = c["ops"] == m["ops"]
                    entry["params_equal"] = m["params"] is None or c["params"] == m["params"]
                    misses += not (entry["ops_equal"] and entry["params_equal"])
            p["conventions"][tool] = entry
        models[name] = p
    record_ = {"generated_by": "tools/torchvision_counts.py",
               "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                            "python": sys.version.split()[0]},
               "models": models}
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(record_, indent=1) + "\n")
    print(f"wrote {REPORT} ({misses} misses); `flopcalc report` makes reports/torchvision_counts.md of it")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())

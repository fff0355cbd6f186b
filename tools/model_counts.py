"""Models nobody here wrote, counted by flopcalc under each tool's convention and by each tool itself,
live: the tables under ``reports/`` that say where flopcalc reproduces each tool.

Two collections (``--zoo``):

- ``torchvision`` (the default): every torchvision classification model
  (``torchvision.models.list_models(module=torchvision.models)``), at 224 x 224 (299 for
  inception_v3), 1000 classes: ``reports/torchvision_counts.md``;
- ``timm``: one model of every timm family (:data:`TIMM_MODELS`, the smallest of each), at the input
  its ``pretrained_cfg`` declares, as ``flopcalc table timm:NAME`` counts it: ``reports/timm_counts.md``.

torchvision and timm do not import beside the CPU torch build the test suite uses, so this runs in an
environment of its own (several GB: torch 2.14.1 is a CUDA build), from the repository root:

    python3 -m venv /tmp/tv
    /tmp/tv/bin/pip install torch==2.14.1 torchvision==0.29.1 timm
    /tmp/tv/bin/pip install fvcore ptflops thop torchinfo torchprofile calflops transformers tabulate
    /tmp/tv/bin/pip install --no-deps -e .
    /tmp/tv/bin/python tools/model_counts.py                 # every torchvision model; --models resnet50,vit_b_16
    /tmp/tv/bin/python tools/model_counts.py --zoo timm

The tools' live counts are slow (each runs the real model) and do not depend on flopcalc, so they
are kept in ``build/ZOO_live.jsonl`` and measured once per model and tool (``--fresh`` measures
again). flopcalc's side is recomputed every run. Writes ``reports/data/ZOO_counts.json`` (``flopcalc
report`` turns it into ``reports/ZOO_counts.md``); exits 1 when a convention misses a tool's live total.
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

from flopcalc.conventions import CONVENTIONS, counted_as
from flopcalc.nn import peers
from flopcalc.nn.record import record
from flopcalc.nn.load import declared_input
from flopcalc.reports.recorded import COUNTED_TOOLS

ROOT = Path(__file__).resolve().parent.parent
TOOLS = COUNTED_TOOLS
SIZES = {"inception_v3": 299}  # the resolution a torchvision builder is made for, where it is not 224
# one model of each timm family: the smallest variant, its architecture as timm names it (no weights)
TIMM_MODELS = (
    "resnet18", "resnet50d", "resnext26ts", "seresnext26d_32x4d", "regnety_002", "regnetz_b16", "cspresnet50",
    "dla34", "dpn48b", "densenet121", "hrnet_w18_small", "res2net50_14w_8s", "resnest14d", "skresnet18",
    "repvgg_a0", "ese_vovnet19b_dw", "ghostnet_100", "efficientnet_b0", "efficientnetv2_rw_t",
    "mobilenetv3_large_100", "mobilenetv4_conv_small", "mobilenetv4_hybrid_medium", "mnasnet_100", "lcnet_050",
    "rexnet_100", "tinynet_e", "hardcorenas_a", "fbnetv3_b", "mobileone_s0", "fastvit_t8", "repvit_m0_9",
    "efficientvit_b0", "efficientvit_m0", "convnext_atto", "convnextv2_atto", "inception_next_tiny",
    "edgenext_xx_small", "mobilevit_xxs", "mobilevitv2_050", "efficientformer_l1", "efficientformerv2_s0",
    "levit_128s", "vit_tiny_patch16_224", "deit_tiny_patch16_224", "deit3_small_patch16_224",
    "eva02_tiny_patch14_224", "beit_base_patch16_224", "cait_xxs24_224", "xcit_nano_12_p16_224",
    "pit_ti_224", "crossvit_tiny_240", "pvt_v2_b0", "twins_svt_small", "swin_tiny_patch4_window7_224",
    "swinv2_tiny_window8_256", "maxvit_tiny_rw_224", "coatnet_0_rw_224", "tiny_vit_5m_224", "gcvit_xxtiny",
    "poolformer_s12", "poolformerv2_s12", "mixer_s32_224", "resmlp_12_224", "gmlp_ti16_224", "convmixer_768_32",
    "visformer_tiny", "hgnetv2_b0", "nf_resnet26", "dm_nfnet_f0", "inception_v3", "xception41", "nasnetalarge",
    "vgg11", "sequencer2d_s", "volo_d1_224", "mvitv2_tiny", "davit_tiny", "focalnet_tiny_srf",
)


class Zoo:
    """A collection of builders: its models, how to build one and on what input."""

    def __init__(self, name: str):
        self.name = name
        self.cache = ROOT / "build" / f"{name}_live.jsonl"
        self.report = ROOT / "reports" / "data" / f"{name}_counts.json"  # flopcalc report makes its page
        if name == "timm":
            import timm
            self.package = timm
        else:
            import torchvision
            self.package = torchvision

    def models(self) -> list[str]:
        if self.name == "timm":
            return list(TIMM_MODELS)
        return self.package.models.list_models(module=self.package.models)

    def create(self, name: str) -> torch.nn.Module:
        if self.name == "timm":
            return self.package.create_model(name, pretrained=False)
        return self.package.models.get_model(name, weights=None)

    def shape_of(self, name: str, net: torch.nn.Module) -> tuple[int, ...]:
        if self.name == "timm":  # what flopcalc's timm: source counts on without --input
            return declared_input(net)[0].shape
        s = SIZES.get(name, 224)
        return (1, 3, s, s)

    def build(self, name: str, meta: bool = False) -> torch.nn.Module:
        """The model, its weights uninitialized but zeroed (values change no count; initializing the
        largest ones takes longer than counting them)."""
        try:
            with torch.device("meta"):
                net = self.create(name)
        except Exception:  # noqa: BLE001  a builder that reads values as it builds (RegNet's widths): a real one
            return self.create(name).eval()
        if meta:
            return net.eval()
        net = net.to_empty(device="cpu")
        with torch.no_grad():
            for t in list(net.parameters()) + list(net.buffers()):
                t.zero_()
        return net.eval()


def live(zoo: Zoo, names: list[str], fresh: bool) -> dict:
    done: dict = {}
    if zoo.cache.exists() and not fresh:
        for line in zoo.cache.read_text().splitlines():
            r = json.loads(line)
            done[(r["model"], r["tool"])] = r
    zoo.cache.parent.mkdir(parents=True, exist_ok=True)
    with zoo.cache.open("a") as out:
        for name in names:
            for tool in TOOLS:
                if (name, tool) in done:
                    continue
                t0 = time.perf_counter()
                try:
                    net = zoo.build(name)
                    params, ops = peers.MODULE_TOOLS[tool](net, zoo.shape_of(name, net))
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


def predicted(zoo: Zoo, name: str) -> dict:
    net = zoo.build(name, meta=True)
    shape = zoo.shape_of(name, net)
    a = record(net, shape, name).analysis()
    out = {"input": list(shape), "params": a.total.params, "numel": sum(p.numel() for p in net.parameters()),
           "macs": a.total.macs, "uncounted": a.uncounted, "conventions": {}}
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
    ap.add_argument("--zoo", choices=("torchvision", "timm"), default="torchvision")
    ap.add_argument("--models", help="comma-separated builders (default: every model of the collection)")
    ap.add_argument("--fresh", action="store_true", help="measure the tools again")
    ap.add_argument("--no-live", action="store_true", help="only flopcalc's side, with what the cache holds")
    args = ap.parse_args(argv)
    zoo = Zoo(args.zoo)
    names = args.models.split(",") if args.models else zoo.models()
    measured = {} if args.no_live else live(zoo, names, args.fresh)
    if args.no_live and zoo.cache.exists():
        for line in zoo.cache.read_text().splitlines():
            r = json.loads(line)
            measured[(r["model"], r["tool"])] = r
    models, misses = {}, 0
    for name in names:
        try:
            p = predicted(zoo, name)
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
    record_ = {"generated_by": f"tools/model_counts.py --zoo {zoo.name}",
               "versions": {"torch": torch.__version__, zoo.name: zoo.package.__version__,
                            "python": sys.version.split()[0]},
               "models": models}
    zoo.report.parent.mkdir(parents=True, exist_ok=True)
    zoo.report.write_text(json.dumps(record_, indent=1) + "\n")
    print(f"wrote {zoo.report} ({misses} misses); `flopcalc report` makes reports/{zoo.name}_counts.md of it")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())

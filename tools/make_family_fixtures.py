"""Record what torchvision's EfficientNet B0-B7 and MnasNet and timm's MobileNetV4 are, at their published
and other widths, depths and resolutions, for tests that run without torchvision or timm
(``tests/core/test_family_zoo.py``, ``tests/nn/test_family_parity.py``).

Run in an environment with torchvision and timm (see ``tools/model_counts.py`` for one; flopcalc
installed in it with ``pip install --no-deps -e .``), from the repository root:

    /tmp/tv/bin/python tools/make_family_fixtures.py [--only PREFIX]

(``--only mobilenetv4_hybrid`` records only the cases whose name starts so and keeps the file's others.)

Writes ``tests/data/family_fixtures.json``: for each case (a torchvision builder or timm model, or their
own ``EfficientNet`` / ``MNASNet`` classes and MobileNetV4 generator at a width and depth no name has),
with the flopcalc zoo model, width and depth it should equal:

- ``params``: ``sum(p.numel())``; ``state_dict``: every key with its shape;
- ``macs``: at each resolution, torch's ``FlopCounterMode`` total over 2 (it charges 2 per
  multiply-add of every convolution and matrix product, and nothing else: what flopcalc calls macs),
  with scaled dot-product attention on torch's math path (two matrix products, which it counts; its
  fused kernels it has no formula for); the model is built and run on the meta device, so no weights
  are allocated;
- ``shapes``: each leaf module's (and each module with parameters of its own) output shape per image at
  the first resolution (forward hooks);
- ``batch_norm``: the (eps, momentum) pairs used;
- ``output_difference``: flopcalc's built model, loaded strictly with the torchvision model's
  state_dict (random weights, random biases, batch-norm statistics and layer scales), against the reference
  on the same two 64 x 64 images in eval mode: the largest absolute difference of the outputs and the
  spread of the outputs (so that a difference of 0 is not two constant outputs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models import efficientnet as tv_efficientnet
from torchvision.models import mnasnet as tv_mnasnet

from flopcalc.nn import build
from flopcalc.zoo import MODELS

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "family_fixtures.json"


def cases():
    """(name, make, zoo model, width, depth, resolutions): every published variant at its resolution and
    two others, and widths (and depths) off the published ones."""
    for v in range(8):
        name = f"efficientnet_b{v}"
        f = MODELS[name].family
        yield (name, getattr(torchvision.models, name), name, f.alpha, f.depth,
               (f.resolution, 224 if f.resolution != 224 else 192, 331))
    for width, depth in ((0.75, 1.0), (1.25, 1.3)):  # off the published: torchvision's own classes
        def make(width=width, depth=depth):
            setting, last = tv_efficientnet._efficientnet_conf("efficientnet_b0", width_mult=width, depth_mult=depth)
            return tv_efficientnet.EfficientNet(setting, 0.2, last_channel=last)
        yield f"EfficientNet(width {width}, depth {depth})", make, "efficientnet_b0", width, depth, (224, 257)
    for alpha in (0.5, 0.75, 1.0, 1.3, 0.6, 1.1):  # the four builders, then two widths no builder has
        yield (f"MNASNet({alpha})", lambda alpha=alpha: tv_mnasnet.MNASNet(alpha), "mnasnet", alpha, 1.0,
               (224, 192, 331) if alpha == 1.0 else (224,))
    import timm
    from timm.models import mobilenetv3 as timm_mnv3
    for kind, size in (("conv", "small"), ("conv", "medium"), ("conv", "large"), ("hybrid", "medium"),
                       ("hybrid", "large")):  # timm's MobileNetV4, then two widths no timm name has
        name, model = f"mobilenetv4_{kind}_{size}", f"mobilenet_v4_{kind}_{size}"
        r = MODELS[model].family.resolution
        yield name, lambda name=name: timm.create_model(name), model, 1.0, 1.0, (r, 192, 289)
        for width in (0.75, 1.25):
            yield (f"{name} (channel_multiplier {width})",
                   lambda name=name, width=width: timm_mnv3._gen_mobilenet_v4(name, width), model, width, 1.0, (r,))


def macs(make, resolution: int) -> int:
    from torch.nn.attention import SDPBackend, sdpa_kernel
    with torch.device("meta"):
        model = make().eval()
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), counter:
            model(torch.empty(1, 3, resolution, resolution))
    total = int(counter.get_total_flops())
    assert total % 2 == 0
    return total // 2


def shapes(make, resolution: int) -> dict:
    with torch.device("meta"):
        model = make().eval()
        out: dict = {}

        def keep(name):
            def hook(module, inputs, output):  # returns None: the output stays the module's
                out.setdefault(name, list(output.shape[1:]))
            return hook
        hooks = [m.register_forward_hook(keep(name))  # leaves, and modules with parameters of their own
                 for name, m in model.named_modules()  # (timm's BatchNormAct2d holds its activation)
                 if name and (not any(True for _ in m.children()) or any(True for _ in m.parameters(False)))]
        with torch.no_grad():
            model(torch.empty(1, 3, resolution, resolution))
        for h in hooks:
            h.remove()
    return out


def randomize(model: torch.nn.Module) -> None:
    """Random biases and batch-norm values, so that every stored value reaches the output."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and m.bias is not None:
                m.bias.uniform_(-0.1, 0.1)
            if isinstance(getattr(m, "gamma", None), torch.nn.Parameter):  # a layer scale (1e-5 at first)
                m.gamma.uniform_(0.5, 1.5)
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)


def difference(make, model: str, width: float, depth: float) -> dict:
    torch.manual_seed(0)
    ref = make().eval()
    randomize(ref)
    from flopcalc.zoo import with_depth
    ours = build(with_depth(model, depth), alpha=width).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        a, b = ref(x), ours(x)
    return {"max_abs": float((a - b).abs().max()), "output_spread": float(a.max() - a.min())}


def main() -> int:
    import argparse
    import timm
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="record only the cases whose name starts with this; keep the others")
    args = parser.parse_args()
    kept = json.loads(OUT.read_text())["cases"] if args.only else []
    record: dict = {"generated_by": "tools/make_family_fixtures.py",
                    "versions": {"torch": str(torch.__version__), "torchvision": str(torchvision.__version__),
                                 "timm": str(timm.__version__), "python": sys.version.split()[0]},
                    "cases": []}
    redo = {name for name, *_ in cases() if args.only and name.startswith(args.only)}
    old = {c["name"]: c for c in kept}
    for name, make, model, width, depth, resolutions in cases():
        if args.only and name not in redo:
            record["cases"].append(old[name])
            continue
        real = make()
        entry = {"name": name, "model": model, "width": width, "depth": depth,
                 "params": sum(p.numel() for p in real.parameters()),
                 "state_dict": [[k, list(v.shape)] for k, v in real.state_dict().items()],
                 "batch_norm": sorted({(m.eps, m.momentum) for m in real.modules()
                                       if isinstance(m, torch.nn.BatchNorm2d)}),
                 "macs": {str(r): macs(make, r) for r in resolutions},
                 "shapes": shapes(make, resolutions[0]), "resolution": resolutions[0],
                 "output_difference": difference(make, model, width, depth)}
        del real
        print(name, entry["params"], entry["macs"], entry["output_difference"], flush=True)
        record["cases"].append(entry)
    OUT.write_text(json.dumps(record, indent=1) + "\n")
    print("wrote", OUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

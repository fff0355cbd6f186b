"""Record what torchvision's real MobileNetV3, MnasNet and EfficientNet-B0 are, for tests
that run without torchvision.

Run once, in an environment that has torchvision and fvcore (not CI: PyPI's torchvision
needs a newer torch than the CPU build CI installs), from the repository root:

    python tools/make_torchvision_v3_fixtures.py

Writes
- ``tests/data/torchvision_mobilenet_v3.json``: for ``mobilenet_v3_large`` and
  ``mobilenet_v3_small`` at each width multiplier, every ``state_dict`` key with its shape,
  ``sum(p.numel())``, and at each resolution fvcore's per-operator counts and
  ``FlopCounterMode``'s total (with its per-operator split) of the model in eval mode;
  for width 1.0 also the leaf modules (qualified name, class) in ``named_modules()`` order,
  the batch-norm eps/momentum used, and the ``inplace`` flags of activations and dropout;
  plus the versions used.
- ``tests/data/torchvision_mobilenet_v3_large_075_c10.pt`` and
  ``tests/data/torchvision_mobilenet_v3_small_075_c10.pt``: a torchvision checkpoint
  (width_mult=0.75, 10 classes, random weights, biases, batch-norm affine values and
  batch-norm statistics near those of real activations, so the output depends on the
  input) with an input batch and torchvision's output for it, to test strict loading and
  equal outputs. The large one would be about 9.8 MB in float32, so its floating-point
  values are first rounded to float16 (torchvision computes the output from the rounded
  values, in float32) and stored as float16; ``load_state_dict`` casts them back exactly.
  ``config["state_dict_dtype"]`` says which.
- ``tests/data/torchvision_examples.json``: for ``mnasnet1_0``, ``mnasnet0_5`` and
  ``efficientnet_b0`` (1000 classes): ``sum(p.numel())``, the ``state_dict`` keys with
  shapes, ``FlopCounterMode``'s total and fvcore's per-operator counts at 224 in eval mode,
  and the leaf modules, batch-norm settings and ``inplace`` flags as above.
- ``tests/data/imagenet_categories.json``: the 1000 ImageNet class names torchvision's
  weights carry, and the published ``meta`` figures (less categories and docs, plus the
  URL and the preprocessing) of the ImageNet weights of these models and of MobileNetV2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import fvcore
import torch
import torchvision
from fvcore.nn import FlopCountAnalysis
from torch.utils.flop_counter import FlopCounterMode

OUT = Path(__file__).resolve().parent.parent / "tests" / "data"
ARCHS = ("mobilenet_v3_large", "mobilenet_v3_small")
ALPHAS = (0.5, 0.75, 1.0, 1.25)
RESOLUTIONS = (96, 128, 160, 192, 224)
EXAMPLES = ("mnasnet1_0", "mnasnet0_5", "efficientnet_b0")
CHECKPOINT_DTYPE = {"mobilenet_v3_large": torch.float16, "mobilenet_v3_small": torch.float32}
WEIGHTS = (
    "MobileNet_V2_Weights.IMAGENET1K_V1",
    "MobileNet_V2_Weights.IMAGENET1K_V2",
    "MobileNet_V3_Large_Weights.IMAGENET1K_V1",
    "MobileNet_V3_Large_Weights.IMAGENET1K_V2",
    "MobileNet_V3_Small_Weights.IMAGENET1K_V1",
    "MNASNet1_0_Weights.IMAGENET1K_V1",
    "MNASNet0_5_Weights.IMAGENET1K_V1",
    "EfficientNet_B0_Weights.IMAGENET1K_V1",
)


def fvcore_counts(model: torch.nn.Module, resolution: int) -> dict[str, int]:
    flops = FlopCountAnalysis(model, torch.zeros(1, 3, resolution, resolution))
    flops.unsupported_ops_warnings(False)
    flops.uncalled_modules_warnings(False)
    return {op: int(n) for op, n in sorted(flops.by_operator().items())}


def flop_counter(model: torch.nn.Module, resolution: int) -> tuple[int, dict[str, int]]:
    """FlopCounterMode's total (2 per multiply-add) and its split by aten operator."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, resolution, resolution))
    split = {str(op): int(n) for op, n in counter.get_flop_counts()["Global"].items()}
    return int(counter.get_total_flops()), dict(sorted(split.items()))


def structure(model: torch.nn.Module) -> dict:
    """Leaf modules in named_modules() order, batch-norm settings, inplace flags."""
    leaves = [[name, type(m).__name__] for name, m in model.named_modules()
              if name and not any(True for _ in m.children())]
    norms: dict[tuple, int] = {}
    inplace: dict[str, dict[str, int]] = {}
    dropout: dict[str, int] = {}
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            key = (type(m).__name__, m.eps, m.momentum, m.affine, m.track_running_stats)
            norms[key] = norms.get(key, 0) + 1
        if hasattr(m, "inplace"):
            flags = inplace.setdefault(type(m).__name__, {})
            flags[str(m.inplace)] = flags.get(str(m.inplace), 0) + 1
        if isinstance(m, torch.nn.Dropout):
            dropout[str(m.p)] = dropout.get(str(m.p), 0) + 1
    return {
        "leaf_modules": leaves,
        "batch_norm": [{"class": c, "eps": e, "momentum": mo, "affine": a,
                        "track_running_stats": t, "count": n}
                       for (c, e, mo, a, t), n in norms.items()],
        "inplace": inplace,
        "dropout_p": dropout,
    }


def randomize(model: torch.nn.Module) -> None:
    """Make every stored value matter to the output: random biases (torchvision initialises
    them to zero), random batch-norm affine values, and batch-norm statistics near the
    per-channel statistics of the activations the eval-mode model itself gives random
    inputs, randomly perturbed. (Purely random statistics, as for V2, shrink the input's
    effect by ~10x per block: the two outputs of the batch would then agree to 1e-8, and
    the test could not see a wrong feature extractor.)"""
    calibration = torch.randn(8, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and m.bias is not None:
                m.bias.uniform_(-0.1, 0.1)
        for m in [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]:
            seen = []  # in execution order: each sees the already-calibrated ones before it
            hook = m.register_forward_pre_hook(lambda _, args: seen.append(args[0].clone()))
            model(calibration)
            hook.remove()
            mean = seen[0].mean(dim=(0, 2, 3))
            var = seen[0].var(dim=(0, 2, 3))
            m.running_mean.copy_(mean + torch.empty_like(mean).uniform_(-0.1, 0.1) * var.sqrt())
            m.running_var.copy_(var * torch.empty_like(var).uniform_(0.5, 1.5))
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.1, 0.1)


def versions() -> dict[str, str]:
    return {"torch": str(torch.__version__), "torchvision": str(torchvision.__version__),
            "fvcore": getattr(fvcore, "__version__", "unknown"),
            "python": sys.version.split()[0]}


def write_v3(vers: dict[str, str]) -> None:
    record: dict = {"generated_by": "tools/make_torchvision_v3_fixtures.py",
                    "versions": vers, "models": {}}
    for arch in ARCHS:
        record["models"][arch] = {}
        for alpha in ALPHAS:
            model = getattr(torchvision.models, arch)(width_mult=alpha).eval()
            entry = {
                "state_dict": [[k, list(v.shape)] for k, v in model.state_dict().items()],
                "params": sum(p.numel() for p in model.parameters()),
                "fvcore": {str(r): fvcore_counts(model, r) for r in RESOLUTIONS},
                "flop_counter": {},
                "flop_counter_by_operator": {},
            }
            for r in RESOLUTIONS:
                total, split = flop_counter(model, r)
                entry["flop_counter"][str(r)] = total
                entry["flop_counter_by_operator"][str(r)] = split
            if alpha == 1.0:
                entry["structure"] = structure(model)
            record["models"][arch][str(alpha)] = entry
    path = OUT / "torchvision_mobilenet_v3.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    print("wrote", path)


def write_checkpoints(vers: dict[str, str]) -> None:
    for arch in ARCHS:
        torch.manual_seed(0)
        model = getattr(torchvision.models, arch)(width_mult=0.75, num_classes=10)
        randomize(model)
        dtype = CHECKPOINT_DTYPE[arch]
        with torch.no_grad():  # values exactly representable in the stored dtype
            for t in model.state_dict().values():
                if t.is_floating_point():
                    t.copy_(t.to(dtype))
        model.eval()
        x = torch.randn(2, 3, 64, 64)
        with torch.no_grad():
            y = model(x)
        state = {k: (v.to(dtype) if v.is_floating_point() else v)
                 for k, v in model.state_dict().items()}
        path = OUT / f"torchvision_{arch}_075_c10.pt"
        torch.save({"state_dict": state, "input": x, "output": y,
                    "config": {"arch": arch, "width_mult": 0.75, "num_classes": 10,
                               "state_dict_dtype": str(dtype).removeprefix("torch.")},
                    "versions": vers}, path)
        print("wrote", path, path.stat().st_size, "bytes")


def write_examples(vers: dict[str, str]) -> None:
    record: dict = {"generated_by": "tools/make_torchvision_v3_fixtures.py",
                    "versions": vers, "models": {}}
    for name in EXAMPLES:
        model = getattr(torchvision.models, name)().eval()
        total, split = flop_counter(model, 224)
        sd = model.state_dict()
        record["models"][name] = {
            "state_dict": [[k, list(v.shape)] for k, v in sd.items()],
            "state_dict_root_metadata": dict(getattr(sd, "_metadata", {}).get("", {})),
            "params": sum(p.numel() for p in model.parameters()),
            "flop_counter": {"224": total},
            "flop_counter_by_operator": {"224": split},
            "fvcore": {"224": fvcore_counts(model, 224)},
            "structure": structure(model),
        }
    path = OUT / "torchvision_examples.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    print("wrote", path)


def jsonable(value):
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def write_categories(vers: dict[str, str]) -> None:
    categories = list(torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"])
    weights = {}
    for spec in WEIGHTS:
        enum_name, member = spec.split(".")
        w = getattr(getattr(torchvision.models, enum_name), member)
        assert list(w.meta["categories"]) == categories, spec
        meta = {k: jsonable(v) for k, v in w.meta.items() if k not in ("categories", "_docs")}
        preset = w.transforms()
        meta["url"] = w.url
        meta["transforms"] = {"crop_size": list(preset.crop_size),
                              "resize_size": list(preset.resize_size),
                              "mean": list(preset.mean), "std": list(preset.std),
                              "interpolation": preset.interpolation.value}
        weights[spec] = meta
    record = {"generated_by": "tools/make_torchvision_v3_fixtures.py", "versions": vers,
              "source": "torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta['categories']",
              "categories": categories, "weights": weights}
    path = OUT / "imagenet_categories.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    print("wrote", path)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    vers = versions()
    write_v3(vers)
    write_checkpoints(vers)
    write_examples(vers)
    write_categories(vers)


if __name__ == "__main__":
    main()

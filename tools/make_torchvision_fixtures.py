"""Record what torchvision's real MobileNetV2 is, for tests that run without torchvision.

Run once, in an environment that has torchvision (not CI: PyPI's torchvision needs a newer
torch than the CPU build CI installs), from the repository root:

    python tools/make_torchvision_fixtures.py

Writes
- ``tests/data/torchvision_mobilenet_v2.json``: for each width multiplier, every
  ``state_dict`` key with its shape, ``sum(p.numel())``, and fvcore's per-operator counts
  of the model in eval mode at each resolution; plus the versions used.
- ``tests/data/torchvision_mobilenet_v2_035_c10.pt``: a torchvision checkpoint
  (width_mult=0.35, 10 classes, random weights and batch-norm statistics) with an input
  batch and torchvision's output for it, to test strict loading and equal outputs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import fvcore
import torch
import torchvision
from fvcore.nn import FlopCountAnalysis

OUT = Path(__file__).resolve().parent.parent / "tests" / "data"
ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
RESOLUTIONS = (96, 128, 160, 192, 224)


def fvcore_counts(model: torch.nn.Module, resolution: int) -> dict[str, int]:
    flops = FlopCountAnalysis(model, torch.zeros(1, 3, resolution, resolution))
    flops.unsupported_ops_warnings(False)
    flops.uncalled_modules_warnings(False)
    return {op: int(n) for op, n in sorted(flops.by_operator().items())}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    record: dict = {
        "generated_by": "tools/make_torchvision_fixtures.py",
        "versions": {"torch": str(torch.__version__), "torchvision": str(torchvision.__version__),
                     "fvcore": getattr(fvcore, "__version__", "unknown"),
                     "python": sys.version.split()[0]},
        "models": {},
    }
    for alpha in ALPHAS:
        model = torchvision.models.mobilenet_v2(width_mult=alpha).eval()
        record["models"][str(alpha)] = {
            "state_dict": [[k, list(v.shape)] for k, v in model.state_dict().items()],
            "params": sum(p.numel() for p in model.parameters()),
            "fvcore": {str(r): fvcore_counts(model, r) for r in RESOLUTIONS},
        }
    path = OUT / "torchvision_mobilenet_v2.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    print("wrote", path)

    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2(width_mult=0.35, num_classes=10)
    with torch.no_grad():  # make every stored value matter to the output
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        y = model(x)
    path = OUT / "torchvision_mobilenet_v2_035_c10.pt"
    torch.save({"state_dict": model.state_dict(), "input": x, "output": y,
                "config": {"width_mult": 0.35, "num_classes": 10},
                "versions": record["versions"]}, path)
    print("wrote", path)


if __name__ == "__main__":
    main()

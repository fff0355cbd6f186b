"""Write examples/tiny_resnet.onnx, the ONNX file docs/your-model.md counts: examples/tiny_resnet.py's
model (width 8, 10 classes) exported by flopcalc's own exporter settings (opset 17, eval mode,
constant folding), input 1x3x64x64 with a free batch dimension.

    python tools/make_example_onnx.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]

import torch  # noqa: E402

from flopcalc.nn.onnx_export import export  # noqa: E402
from tiny_resnet import make  # noqa: E402


def main() -> None:
    torch.manual_seed(0)
    path = export(make(width=8), 64, ROOT / "examples" / "tiny_resnet.onnx")
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()

"""The PyTorch side of flopcalc: models built from the specs, the fvcore cross-check and
NumPy reference kernels, and any module or ONNX file counted (``analyze_module``,
``analyze_onnx``). Importing this package imports torch; the analytical core does not."""

from .builders import BUILDERS, build, build_layer
from .onnx_record import analyze_onnx
from .record import analyze_module

__all__ = ["BUILDERS", "analyze_module", "analyze_onnx", "build", "build_layer"]

"""The PyTorch side of flopcalc: models built from the specs, the fvcore cross-check and
NumPy reference kernels. Importing this package imports torch; the analytical core does not."""

from .builders import BUILDERS, build, build_layer

__all__ = ["BUILDERS", "build", "build_layer"]

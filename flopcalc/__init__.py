"""flopcalc: exact output sizes, parameters and multiply-adds of MobileNet V1, V2 and V3 and any network
of the family written as a spec file.

The analytical core (this package's top level) is pure Python and imports neither torch
nor numpy; the PyTorch side lives in :mod:`flopcalc.nn`.
"""

from .walk import Analysis, LayerRow, Total, separable
from .conventions import CONVENTIONS, analyze
from .spec import SpecError
from .zoo import MODELS, get_spec

__version__ = "0.1.0"
__all__ = ["Analysis", "CONVENTIONS", "LayerRow", "MODELS", "SpecError", "Total", "analyze", "get_spec",
           "separable", "__version__"]

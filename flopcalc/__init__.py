"""flopcalc: exact output sizes, parameters and multiply-adds of MobileNet V1, V2 and V3 and any network
of the family written as a spec file.

The analytical core (this package's top level) is pure Python and imports neither torch
nor numpy; the PyTorch side lives in :mod:`flopcalc.nn`.
"""

from .walk import DEFAULT_CONVENTION, Analysis, LayerRow, Total, separable
from .conventions import CONVENTIONS, analyze as _analyze_zoo
from .spec import SpecError
from .zoo import MODELS, alpha_or_default, get_spec, resolution_or_default, with_depth

__version__ = "0.1.0"


def analyze(model, alpha: float | None = None, resolution=None, num_classes: int | None = None, *,
            batch: int = 1, convention: str = DEFAULT_CONVENTION, full_conv: bool = False,
            small_input: bool = False, input_shape=None, model_args: dict | None = None,
            depth_mult: float | None = None) -> Analysis:
    """Per-layer output shapes, parameters and multiply-adds of a model, counted as ``convention``
    counts them (flopcalc's own, ``"pytorch"``, by default; :data:`CONVENTIONS`).

    ``model`` is a zoo name or a spec (``alpha``, ``depth_mult``, ``resolution``, ``num_classes``, ``batch``,
    ``full_conv``, ``small_input`` describe it; the model's own width, depth and resolution unless
    given; analytical, no torch), or a model of your own,
    recorded on fake tensors: an ``nn.Module``, a source (``"torchvision:resnet50"``,
    ``"path/to/file.py:factory"``, ``"package.module:factory"`` with ``model_args``) or an ONNX
    file (``"model.onnx"``), with ``input_shape`` (batch first, default ``(1, 3, 224, 224)``; or a
    list of inputs, each a shape or a ``(shape, dtype)`` pair)."""
    if _recorded(model):
        given = [k for k, v in (("alpha", alpha), ("depth_mult", depth_mult), ("resolution", resolution),
                                ("num_classes", num_classes),
                                ("full_conv", full_conv), ("small_input", small_input), ("batch", batch != 1)) if v]
        if given:
            raise SpecError(f"{', '.join(given)} describe a zoo model or a spec; a recorded model's own code "
                            "decides: give input_shape (and model_args for a builder) instead")
        from .nn.load import analyze_recorded  # the torch side, only for a model that needs it
        return analyze_recorded(model, input_shape, convention, model_args)
    if input_shape is not None or model_args:
        raise SpecError("input_shape and model_args are for a recorded model (an nn.Module, a source or an ONNX "
                        "file); a zoo model takes alpha, resolution and num_classes")
    if depth_mult is not None:
        model = with_depth(model, depth_mult)
    return _analyze_zoo(model, alpha_or_default(model, alpha), resolution_or_default(model, resolution), num_classes,
                        batch=batch, convention=convention, full_conv=full_conv, small_input=small_input)


def _recorded(model) -> bool:
    """A model flopcalc records rather than walks: a torch module, a source or an ONNX file."""
    from os import PathLike
    if isinstance(model, (str, PathLike)):
        from .sources import parse_source
        return parse_source(str(model)) is not None
    return callable(getattr(model, "named_modules", None))
__all__ = ["Analysis", "CONVENTIONS", "LayerRow", "MODELS", "SpecError", "Total", "analyze", "get_spec",
           "separable", "__version__"]

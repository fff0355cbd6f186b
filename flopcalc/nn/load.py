"""One door for "a zoo name, a spec file or a checkpoint": the built model, its analysis and the name to
show, so that a command that takes any of them (``export`` today) decides it in one place."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..walk import Analysis
from ..conventions import analyze
from ..specfile import read
from ..zoo import MODELS, alpha_or_default, model_name
from ..scaling import DEFAULT_RESOLUTION


@dataclass
class Loaded:
    net: nn.Module
    analysis: Analysis
    source: str            # the zoo name, or the file given


def is_model(text: str) -> bool:
    """A zoo name or a spec file (``.toml``); anything else is a checkpoint."""
    return text in MODELS or text.endswith(".toml")


def load_model(text: str, alpha: float | None = None, resolution=None, num_classes: int | None = None,
         batch: int = 1) -> Loaded:
    """``text``'s model, built (a checkpoint's with its weights) and analyzed at ``resolution`` (default:
    the model's own: 224, or the resolution a checkpoint was trained at)."""
    if is_model(text):
        from .builders import build
        model = text if text in MODELS else read(text)
        size = DEFAULT_RESOLUTION if resolution is None else resolution
        a = analyze(model, alpha_or_default(model, alpha), size, num_classes, batch=batch)
        net = build(model, a.config["alpha"], a.config["num_classes"])
        return Loaded(net, a, model_name(model))
    from ..training.infer import load_for_inference
    from ..training.checkpoint import family_from_config
    loaded = load_for_inference(text)
    c = loaded.config
    a = analyze(family_from_config(c), c["alpha"], c["resolution"] if resolution is None else resolution,
                c["num_classes"], batch=batch, small_input=c.get("small_input", False))
    return Loaded(loaded.net, a, text)

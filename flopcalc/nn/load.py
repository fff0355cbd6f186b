"""One door for "a zoo name, a spec file or a checkpoint": the built model, its analysis and the name to
show, so that a command that takes any of them (``export`` today) decides it in one place."""

from __future__ import annotations

import contextlib
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


def load_module(source, *, meta: bool = True) -> nn.Module:
    """The ``nn.Module`` a :class:`~flopcalc.sources.ModuleSource` names, built on the meta device
    where its builder allows (no weight memory; no weights are ever downloaded); one line for each
    way it can fail."""
    import importlib
    import torch
    from ..sources import SourceError
    if source.kind == "torchvision":
        factory = _import_attr("torchvision.models", source.target, source.text, "torchvision")
    elif source.kind == "timm":
        timm = _import("timm", source.text, "timm")
        def factory(**kw):
            return timm.create_model(source.target, pretrained=False, **kw)
    elif source.kind == "file":
        from pathlib import Path
        path = Path(source.target)
        if not path.is_file():
            raise SourceError(f"{source.text!r}: no file {source.target!r}")
        spec = importlib.util.spec_from_file_location(f"flopcalc_user_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # noqa: BLE001  (the user's file: its error in one line)
            raise SourceError(f"{source.text!r}: {source.target} does not run: {type(e).__name__}: {_first(e)}") \
                from None
        factory = _attr(module, source.attr, source.text)
    else:
        factory = _import_attr(source.target, source.attr, source.text, None)
    kwargs = dict(source.kwargs)
    if source.kind == "torchvision":
        kwargs.setdefault("weights", None)
    from .runtime import collector_paused
    try:
        with collector_paused():
            if meta:
                with torch.device("meta"), _no_init():
                    net = factory(**kwargs)
            else:
                net = factory(**kwargs)
    except Exception as e:  # noqa: BLE001
        if meta:  # a builder that does real work on its weights (initializations that read values)
            return load_module(source, meta=False)
        raise SourceError(f"{source.text!r}: building it failed: {type(e).__name__}: {_first(e)}") from None
    if not isinstance(net, nn.Module):
        raise SourceError(f"{source.text!r} returned {type(net).__name__}, not a torch.nn.Module")
    return net


@contextlib.contextmanager
def _no_init():
    """torch.nn.init's in-place initializers as no-ops: on the meta device there are no values to
    fill, and a large model spends most of its build time initializing them (EfficientNet-B7: 0.5 s
    of 0.6 s)."""
    from torch.nn import init
    names = [n for n in dir(init) if n.endswith("_") and not n.startswith("_") and callable(getattr(init, n))]
    saved = {n: getattr(init, n) for n in names}
    for n in names:
        setattr(init, n, _unchanged)
    try:
        yield
    finally:
        for n, f in saved.items():
            setattr(init, n, f)


def _unchanged(tensor, *args, **kwargs):
    return tensor


def _first(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else ""


def _import(name: str, text: str, package: str | None):
    import importlib
    from ..sources import SourceError
    try:
        return importlib.import_module(name)
    except Exception as e:  # noqa: BLE001  (ImportError, or a module that fails as it imports)
        hint = f"; pip install {package}" if package and isinstance(e, ModuleNotFoundError) else ""
        raise SourceError(f"{text!r}: cannot import {name}: {type(e).__name__}: {_first(e)}{hint}") from None


def _attr(module, attr: str, text: str):
    from ..sources import SourceError
    obj = getattr(module, attr, None)
    if obj is None or not callable(obj):
        raise SourceError(f"{text!r}: {module.__name__} has no callable {attr!r}")
    return obj


def _import_attr(name: str, attr: str, text: str, package: str | None):
    return _attr(_import(name, text, package), attr, text)


def declared_input(net: nn.Module, batch: int = 1) -> tuple:
    """The input a module declares, batch first: timm's convention, a ``pretrained_cfg`` (or
    ``default_cfg``) whose ``input_size`` is (C, H, W); else a batch of 3 x 224 x 224 images (a
    torchvision builder declares none: its weights' transforms do, for their own resolution)."""
    from ..sources import InputSpec
    for attr in ("pretrained_cfg", "default_cfg"):
        cfg = getattr(net, attr, None)
        size = cfg.get("input_size") if isinstance(cfg, dict) else None
        if isinstance(size, (tuple, list)) and size and all(isinstance(d, int) and d > 0 for d in size):
            return (InputSpec((batch, *size)),)
    return (InputSpec((batch, 3, DEFAULT_RESOLUTION, DEFAULT_RESOLUTION)),)


def analyze_recorded(model, inputs=None, convention: str = "pytorch", model_args: dict | None = None,
                     batch: int = 1):
    """A recorded model's Analysis under ``convention``: ``model`` an ``nn.Module``, a source
    (``torchvision:NAME``, ``file.py:callable``, ``module:callable``, or its parsed
    :class:`~flopcalc.sources.ModuleSource`) or an ONNX file; ``inputs`` as
    :func:`flopcalc.sources.input_specs` takes them (default: what the module declares,
    :func:`declared_input`, for ``batch`` images; an ONNX file's own shapes)."""
    from dataclasses import replace
    from pathlib import PurePath
    from ..conventions import counted_as
    from ..sources import ModuleSource, SourceError, parse_source
    from .record import record
    if isinstance(model, (str, PurePath)):
        parsed = parse_source(str(model))
        if parsed is None:
            raise SourceError(f"{str(model)!r} names no recorded model: torchvision:NAME, timm:NAME, "
                              "package.module:callable, file.py:callable or a .onnx file")
        model = parsed
    if isinstance(model, ModuleSource):
        if model.kind == "onnx":
            if model_args:
                raise SourceError("model_args are for a module's builder, not an ONNX file")
            from .onnx_record import record_onnx
            return counted_as(record_onnx(model.target, inputs).analysis(), convention)
        source = replace(model, kwargs={**model.kwargs, **(model_args or {})})
        net, name = load_module(source), source.name
    elif isinstance(model, nn.Module):
        if model_args:
            raise SourceError("model_args are for a builder; this module is built already")
        net, name = model, type(model).__name__
    else:
        raise SourceError(f"cannot count a {type(model).__name__}: give an nn.Module, a source such as "
                          "torchvision:resnet50 or file.py:callable, or a .onnx file")
    return counted_as(record(net, declared_input(net, batch) if inputs is None else inputs, name).analysis(),
                      convention)

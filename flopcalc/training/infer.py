"""``flopcalc evaluate`` and ``flopcalc predict``: a trained checkpoint, or a torchvision
state_dict file, on data or on image files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..sweep import BUDGET_ALPHAS
from ..zoo import MODELS
from . import checkpoint as ckpt
from .data import IMAGENET_MEAN, IMAGENET_STD, DataError, load_image, make_transforms, open_source
from .checkpoint import model_from_checkpoint
from .evaluate import evaluate_model
from ..scaling import DEFAULT_RESOLUTION


@dataclass
class Loaded:
    net: nn.Module
    config: dict       # as a flopcalc checkpoint's: model, alpha, classes, resolution, normalization
    kind: str          # "flopcalc" or "state_dict"


# the widths a torchvision state_dict is matched against: budget's 0.05 steps and every published width
CANDIDATE_ALPHAS = sorted(set(BUDGET_ALPHAS) | {a for info in MODELS.values() for a in info.published_alphas})
# the zoo models torchvision has: a state_dict of theirs loads into flopcalc's model
STATE_DICT_MODELS = tuple(name for name, info in MODELS.items() if info.torchvision)


def expected_state_dict(spec) -> list[tuple[str, tuple[int, ...]]]:
    """The state_dict keys and shapes flopcalc's builder gives a spec (without building it)."""
    from ..walk import flatten
    from ..spec import BatchNorm2d, Conv2d, LayerScale, Linear
    out = []
    for name, layer, *_ in flatten(spec):
        if isinstance(layer, Conv2d):
            out.append((f"{name}.weight", (layer.out_c, layer.in_c // layer.groups, layer.kernel, layer.kernel)))
            if layer.bias:
                out.append((f"{name}.bias", (layer.out_c,)))
        elif isinstance(layer, BatchNorm2d):
            c = layer.num_features
            if layer.affine:
                out += [(f"{name}.weight", (c,)), (f"{name}.bias", (c,))]
            out += [(f"{name}.running_mean", (c,)), (f"{name}.running_var", (c,)),
                    (f"{name}.num_batches_tracked", ())]
        elif isinstance(layer, LayerScale):
            out.append((f"{name}.gamma", (layer.channels,)))
        elif isinstance(layer, Linear):
            out.append((f"{name}.weight", (layer.out_features, layer.in_features)))
            if layer.bias:
                out.append((f"{name}.bias", (layer.out_features,)))
    return out


def match_state_dict(path, sd: dict) -> tuple[str, float, int]:
    """The zoo model, width and class count whose state_dict is ``sd`` (a torchvision file)."""
    from ..zoo import get_spec
    got = sorted((k, tuple(v.shape)) for k, v in sd.items())
    head = sd.get("classifier.1.weight", sd.get("classifier.3.weight"))
    if head is None:
        raise ckpt.CheckpointError(f"checkpoint {str(path)!r} is a state_dict of no model flopcalc knows "
                                   "(no classifier.1 or classifier.3 weight)")
    classes = int(head.shape[0])
    for model in STATE_DICT_MODELS:
        for alpha in CANDIDATE_ALPHAS:
            if sorted(expected_state_dict(get_spec(model, alpha, classes))) == got:
                return model, alpha, classes
    raise ckpt.CheckpointError(f"checkpoint {str(path)!r} is a state_dict that matches none of "
                               f"{', '.join(STATE_DICT_MODELS)} at widths 0.1 .. 2.0 in steps of 0.05")


def imagenet_classes() -> list[str]:
    return json.loads((Path(__file__).resolve().parent.parent / "data" / "imagenet_classes.json").read_text())


def load_for_inference(path) -> Loaded:
    doc = ckpt.load(path)
    if ckpt.is_flopcalc(doc):
        net = model_from_checkpoint(path, doc)
        return Loaded(net.eval(), doc["config"], "flopcalc")
    if ckpt.is_state_dict(doc):
        model, alpha, classes = match_state_dict(path, doc)
        from ..nn import build
        net = build(model, alpha, classes)
        ckpt.load_weights(net, doc, path, f"{model} alpha={alpha:g} classes={classes}")
        names = imagenet_classes() if classes == 1000 else [str(i) for i in range(classes)]
        config = {"model": model, "family": None, "alpha": alpha, "num_classes": classes,
                  "resolution": DEFAULT_RESOLUTION, "small_input": False, "source": "folder", "data": "ImageNet",
                  "classes": names, "image_size": None, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}
        return Loaded(net.eval(), config, "state_dict")
    raise ckpt.CheckpointError(f"checkpoint {str(path)!r} is neither a flopcalc checkpoint nor a state_dict")


def _runnable(net, eager: bool):
    """The model to run: the optimized equivalent (batch norm folded, channels-last) unless ``eager``."""
    if eager:
        return net
    from ..nn.optimize import optimize_for_inference
    return optimize_for_inference(net)


def evaluate(path, data: str, batch_size: int = 256, workers: int = 0, eager: bool = False, progress=None) -> dict:
    loaded = load_for_inference(path)
    c = loaded.config
    source = open_source(data)
    if len(source.classes) != c["num_classes"]:
        raise DataError(f"data {data!r} has {len(source.classes)} classes; checkpoint {str(path)!r} is "
                        f"{ckpt.config_line(c)}")
    test = source.test
    test.transform = make_transforms(source.name, c["resolution"], False, tuple(c["mean"]), tuple(c["std"]),
                                     source.image_size)
    result = evaluate_model(_runnable(loaded.net, eager), DataLoader(test, batch_size=batch_size, num_workers=workers),
                            progress=progress)
    return {"checkpoint": str(path), "model": c["model"], "config": ckpt.json_config(c), "data": data, **result}


def predict_images(path, images: list[str], top: int = 5, eager: bool = False) -> dict:
    loaded = load_for_inference(path)
    net = _runnable(loaded.net, eager)
    c = loaded.config
    pipeline = make_transforms(c["source"], c["resolution"], False, tuple(c["mean"]), tuple(c["std"]),
                               tuple(c["image_size"]) if c.get("image_size") else None)
    channels = 1 if c["source"] == "digits" else 3
    out = []
    for image in images:
        x = load_image(Path(image), channels)
        if c.get("image_size") and tuple(x.shape[1:]) != tuple(c["image_size"]):
            from .transforms import resize
            x = resize(x, tuple(c["image_size"]))  # the training images' own size first
        with torch.inference_mode():
            p = torch.softmax(net(pipeline(x)[None]), dim=1)[0]
        values, index = p.topk(min(top, len(p)))
        out.append({"image": image, "top": [{"rank": r + 1, "class": int(i), "name": c["classes"][int(i)],
                                             "probability": float(v)}
                                            for r, (v, i) in enumerate(zip(values, index))]})
    return {"checkpoint": str(path), "model": c["model"], "config": ckpt.json_config(c), "predictions": out}

"""The training recipe, torch-free: the hyperparameters and their defaults by size of data set,
the schedules and batch augmentations by name, and the learning-rate schedule. The command line
reads its help texts and choices from here; :mod:`.loop` trains with it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

SCHEDULES = ("cosine", "onecycle", "step")  # the first is the default
AUGMENTS = ("none", "mixup", "cutmix")


@dataclass
class Recipe:
    """Hyperparameters; None means the source's default (:func:`defaults`)."""

    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    weight_decay: float | None = None
    momentum: float = 0.9
    schedule: str = SCHEDULES[0]
    warmup: float = 0.05      # share of the steps spent warming up (onecycle / cosine)
    label_smoothing: float = 0.0
    augment: str = AUGMENTS[0]  # batch mixing on top of the source's augmentation: none, mixup, cutmix
    seed: int = 0


# The defaults by size of data set, measured on the digits (benchmarks/bench_train.py; 5 seeds of
# V2 0.5 averaged 99.0% held-out top-1 at the last epoch, the worst 98.3%; V1 0.5 99.2%, 98.3%):
# lr 0.02 per 32 images with a cosine schedule over 40 epochs (25 epochs averaged 98.5%, with a
# worst seed at 97.5%). A peak of 0.05 or more kills the early depthwise channels (their ReLU6
# outputs die) and training stalls. ImageNet-sized folders: MobileNet's 0.1 per 256 images
# (0.025 per 64) and weight decay 4e-5.
DEFAULTS = {
    "small": {"epochs": 40, "batch_size": 32, "lr": 0.02, "weight_decay": 1e-4},
    "large": {"epochs": 90, "batch_size": 64, "lr": 0.025, "weight_decay": 4e-5},
}
SMALL_SOURCES = ("digits", "cifar10")  # the other sources (image folders) are "large"


def defaults(source, recipe: Recipe) -> Recipe:
    """``recipe`` with each None filled from the defaults of ``source``'s size (a DataSource, or
    anything with its ``name``)."""
    d = DEFAULTS["small" if source.name in SMALL_SOURCES else "large"]
    return Recipe(**{k: (d[k] if v is None and k in d else v) for k, v in asdict(recipe).items()})


def lr_factor(schedule: str, step: int, total: int, warmup: float) -> float:
    """The learning rate at ``step`` of ``total`` as a share of the peak."""
    w = int(warmup * total) if schedule != "step" else 0
    if step < w:
        return (step + 1) / w
    t = (step - w) / max(1, total - w)
    if schedule == "step":  # divide by 10 at 50% and 75% of the run
        return 0.1 ** ((t >= 0.5) + (t >= 0.75))
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * t))
    return max(0.0, 1 - t)  # onecycle: linear up, then linear down to zero

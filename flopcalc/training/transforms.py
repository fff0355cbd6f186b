"""The few image transforms training needs, on float tensors (C, H, W) in [0, 1].

Written here rather than taken from torchvision, which the project cannot install beside its
torch and which CI does not have: one implementation, tested everywhere. Every random choice
draws from torch's global generator, which the training loop reseeds at the start of each
epoch (and DataLoader reseeds in each worker), so an epoch replays exactly when a run resumes.
The semantics are torchvision's: ``RandomCrop(size, padding)``, ``RandomHorizontalFlip``,
``RandomResizedCrop(size, scale=(0.08, 1), ratio=(3/4, 4/3))``, ``Resize`` (the shorter side),
``CenterCrop``, ``Normalize``.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch.nn import functional as F

Transform = Callable[[torch.Tensor], torch.Tensor]


def _size(size) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


class Compose:
    def __init__(self, transforms: Sequence[Transform]):
        self.transforms = list(transforms)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return f"Compose({self.transforms})"


class RandomCrop:
    """Pad by ``padding`` zeros on every side, then cut a random ``size`` window."""

    def __init__(self, size, padding: int = 0):
        self.size, self.padding = _size(size), padding

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding:
            x = F.pad(x, (self.padding,) * 4)
        h, w = x.shape[-2:]
        th, tw = self.size
        i = int(torch.randint(0, h - th + 1, (1,)))
        j = int(torch.randint(0, w - tw + 1, (1,)))
        return x[..., i:i + th, j:j + tw]

    def __repr__(self) -> str:
        return f"RandomCrop({self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.flip(-1) if float(torch.rand(())) < self.p else x

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


def resize(x: torch.Tensor, size) -> torch.Tensor:
    """Bilinear resize to ``size`` (an int resizes the shorter side to it, as torchvision)."""
    h, w = x.shape[-2:]
    if isinstance(size, int):
        if h <= w:
            size = (size, max(1, round(w * size / h)))
        else:
            size = (max(1, round(h * size / w)), size)
    if tuple(size) == (h, w):
        return x
    return F.interpolate(x[None], size=tuple(size), mode="bilinear", align_corners=False,
                         antialias=True)[0].clamp_(0.0, 1.0)


class Resize:
    def __init__(self, size):
        self.size = size

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return resize(x, self.size)

    def __repr__(self) -> str:
        return f"Resize({self.size})"


class CenterCrop:
    def __init__(self, size):
        self.size = _size(size)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        th, tw = self.size
        if th > h or tw > w:  # as torchvision: pad a too-small image first
            ph, pw = max(0, th - h), max(0, tw - w)
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
            h, w = x.shape[-2:]
        i, j = (h - th) // 2, (w - tw) // 2
        return x[..., i:i + th, j:j + tw]

    def __repr__(self) -> str:
        return f"CenterCrop({self.size})"


class RandomResizedCrop:
    """A random window covering ``scale`` of the area with aspect ratio in ``ratio`` (log-uniform),
    resized to ``size``; after 10 failed draws, the centre crop (torchvision's rule)."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
        self.size, self.scale, self.ratio = _size(size), scale, ratio

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        area = h * w
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * float(torch.empty(()).uniform_(*self.scale))
            aspect = math.exp(float(torch.empty(()).uniform_(*log_ratio)))
            cw = int(round(math.sqrt(target * aspect)))
            ch = int(round(math.sqrt(target / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                i = int(torch.randint(0, h - ch + 1, (1,)))
                j = int(torch.randint(0, w - cw + 1, (1,)))
                return resize(x[..., i:i + ch, j:j + cw], self.size)
        in_ratio = w / h
        if in_ratio < min(self.ratio):
            cw, ch = w, int(round(w / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            ch, cw = h, int(round(h * max(self.ratio)))
        else:
            cw, ch = w, h
        i, j = (h - ch) // 2, (w - cw) // 2
        return resize(x[..., i:i + ch, j:j + cw], self.size)

    def __repr__(self) -> str:
        return f"RandomResizedCrop({self.size})"


class Normalize:
    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean = torch.tensor(list(mean)).view(-1, 1, 1)
        self.std = torch.tensor(list(std)).view(-1, 1, 1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def __repr__(self) -> str:
        return f"Normalize({self.mean.flatten().tolist()}, {self.std.flatten().tolist()})"


class Grayscale3:
    """One channel repeated into three: grayscale images into the 3-channel models."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.expand(3, *x.shape[1:]) if x.shape[0] == 1 else x

    def __repr__(self) -> str:
        return "Grayscale3()"

"""MixUp (Zhang et al. 2018) and CutMix (Yun et al. 2019), batch-level augmentations: each
batch is mixed with a shuffled copy of itself and the loss is the same mix of the two labels'
cross-entropies. Random draws come from torch's global generator (reseeded every epoch)."""

from __future__ import annotations

import torch
from torch import nn

from .schedule import AUGMENTS  # noqa: F401  (the names, kept where the mixing is)


def _beta(alpha: float) -> float:
    return float(torch.distributions.Beta(torch.tensor(alpha), torch.tensor(alpha)).sample())


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float = 0.2):
    """``lam * x + (1 - lam) * x[perm]``, lam ~ Beta(alpha, alpha); returns (x, y, y[perm], lam)."""
    lam = _beta(alpha)
    perm = torch.randperm(len(x))
    return lam * x + (1 - lam) * x[perm], y, y[perm], lam


def cutmix(x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0):
    """A random box of ``x[perm]`` pasted into ``x``, of area ``(1 - lam)`` with lam ~ Beta(alpha, alpha);
    lam is then the share of the image left unpasted, exactly (the box is clipped at the edges)."""
    lam = _beta(alpha)
    perm = torch.randperm(len(x))
    h, w = x.shape[-2:]
    ch, cw = int(h * (1 - lam) ** 0.5), int(w * (1 - lam) ** 0.5)
    cy, cx = int(torch.randint(0, h, (1,))), int(torch.randint(0, w, (1,)))
    top, bottom = max(cy - ch // 2, 0), min(cy + (ch - ch // 2), h)
    left, right = max(cx - cw // 2, 0), min(cx + (cw - cw // 2), w)
    x = x.clone()
    x[..., top:bottom, left:right] = x[perm][..., top:bottom, left:right]
    lam = 1 - (bottom - top) * (right - left) / (h * w)
    return x, y, y[perm], lam


def mixed_loss(loss_fn: nn.Module, logits: torch.Tensor, y_a: torch.Tensor, y_b: torch.Tensor, lam: float):
    return lam * loss_fn(logits, y_a) + (1 - lam) * loss_fn(logits, y_b)

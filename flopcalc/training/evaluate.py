"""Accuracy of a model on a data loader: top-1 and top-5, images per second."""

from __future__ import annotations

import time

import torch
from torch import nn


def accuracy(logits: torch.Tensor, labels: torch.Tensor, k: int = 5) -> tuple[int, int]:
    """Correct top-1 and top-k predictions in a batch."""
    top = logits.topk(min(k, logits.shape[1]), dim=1).indices
    hit = top == labels[:, None]
    return int(hit[:, 0].sum()), int(hit.any(dim=1).sum())


def evaluate_model(net: nn.Module, loader, channels_last: bool = False, progress=None) -> dict:
    """Top-1 and top-5 (fractions), images and images/s of ``net`` on ``loader``;
    ``progress(done, total)`` after each batch."""
    net.eval()
    n = top1 = top5 = 0
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i, (x, y) in enumerate(loader, 1):
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            c1, c5 = accuracy(net(x), y)
            top1, top5, n = top1 + c1, top5 + c5, n + len(y)
            if progress is not None:
                progress(i, len(loader))
    seconds = time.perf_counter() - t0
    return {"top1": top1 / n, "top5": top5 / n, "images": n, "seconds": seconds,
            "images_per_second": n / seconds if seconds > 0 else None}

"""A vision transformer in miniature, as torchvision writes ViT: a patch convolution, a class token and a
position embedding (parameters of the model itself), pre-norm encoder blocks of nn.LayerNorm,
nn.MultiheadAttention (batch first) and an MLP with nn.GELU, residual adds with ``+``, and a head on the
class token. docs/your-model.md counts it under every tool's convention:

    flopcalc reconcile examples/tiny_vit.py:make --input 1x3x32x32 --live
"""

from __future__ import annotations

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-6)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attention(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class TinyViT(nn.Module):
    def __init__(self, classes: int = 10, dim: int = 64, depth: int = 2, heads: int = 4, patch: int = 8,
                 size: int = 32):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, patch, patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.position = nn.Parameter(torch.zeros(1, (size // patch) ** 2 + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads) for _ in range(depth)])
        self.ln = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1) + self.position
        x = self.ln(self.blocks(x))
        return self.head(x[:, 0])


def make(classes: int = 10, dim: int = 64, depth: int = 2) -> nn.Module:
    return TinyViT(classes, dim, depth)

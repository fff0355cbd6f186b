"""The fastest faithful way to run the models on a CPU: batch norm folded into the convolutions,
channels-last memory format, inference mode, and (behind a flag) torch.compile.

:func:`optimize_for_inference` returns an equivalent eval-mode model: its outputs equal the
original's within float tolerance (relative 1e-4 at float32; tests/nn/test_optimize.py), it has
the same layers minus the batch norms (now inside the convs' biases), and it takes the same
NCHW input (converted to channels-last inside).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .runtime import compiler_available


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """One conv equal to ``bn(conv(x))`` in eval mode: each output channel's weights scaled by
    gamma / sqrt(var + eps), its bias (b - mean) * that + beta."""
    scale = bn.running_var.add(bn.eps).rsqrt()
    if bn.weight is not None:
        scale = scale * bn.weight
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                      conv.dilation, conv.groups, bias=True, padding_mode=conv.padding_mode)
    with torch.no_grad():
        fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        shift = (bias - bn.running_mean) * scale
        fused.bias.copy_(shift + bn.bias if bn.bias is not None else shift)
    return fused


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """Fold every batch norm that directly follows a conv among a module's children (flopcalc's
    ConvBNAct triples, V2's projection) into that conv, in place; the batch norm becomes an
    Identity, so module names stay the same. Returns how many were folded, on ``model.folded``."""
    folded = 0
    for parent in model.modules():
        names = list(parent._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = parent._modules[a], parent._modules[b]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
                parent._modules[a] = fold_conv_bn(conv, bn)
                parent._modules[b] = nn.Identity()
                folded += 1
    model.folded = folded
    return model


class Optimized(nn.Module):
    """The optimized model: an NCHW input goes in, converted to channels-last if the model is."""

    def __init__(self, model: nn.Module, channels_last: bool):
        super().__init__()
        self.model, self.channels_last = model, channels_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.model(x)


def optimize_for_inference(model: nn.Module, *, fold_bn: bool = True, channels_last: bool = True,
                           compile: bool = False) -> nn.Module:
    """An equivalent eval-mode copy of ``model`` that runs faster on CPU (the original is left as
    it is). ``compile`` adds torch.compile (slow to start, then fastest; needs a C++ compiler)."""
    m = copy.deepcopy(model).eval()
    if fold_bn:
        fold_batch_norm(m)
    for p in m.parameters():
        p.requires_grad_(False)
    if channels_last:
        m = m.to(memory_format=torch.channels_last)
    out: nn.Module = Optimized(m, channels_last).eval()
    if compile:
        if not compiler_available():
            raise RuntimeError("torch.compile needs a C++ compiler (c++, g++ or clang++) on PATH")
        out = torch.compile(out)
    return out

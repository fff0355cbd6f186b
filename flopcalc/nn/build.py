"""Real PyTorch models, built by walking the same specs the analyzer walks.

Each layer spec type has one builder (registered with :func:`builder`, duplicates refused);
every block becomes a :class:`Block` whose children carry the spec's child names, so a
layer's dotted name in the analyzer is its qualified module name here. For MobileNet V2 the
names, shapes and ``state_dict`` keys are torchvision's: its checkpoints load strictly.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..registry import Registry
from ..spec import (BLOCK_TYPES, Act, Activation, BatchNorm2d, Conv2d, Dropout, GlobalAvgPool,
                    Layer, Linear, Network, Node, ResidualAdd, SpecError)
from ..zoo import DEFAULT_CLASSES, get_spec

BUILDERS = Registry("builder")
builder = BUILDERS.register  # @builder(Conv2d) registers a module builder


class Add(nn.Module):
    """The residual add: ``block_input + x``, a module so hooks and counters can name it."""

    def forward(self, skip: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return skip + x


class GlobalAvgPool2d(nn.Module):
    """(N, C, H, W) -> (N, C): torchvision's ``adaptive_avg_pool2d(x, 1)`` then ``flatten``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class Block(nn.Module):
    """A block spec's children in order; an :class:`Add` child adds the block's input back."""

    def __init__(self, spec: Node, children: list[tuple[str, nn.Module]]):
        super().__init__()
        self.spec_type = spec.name if isinstance(spec, Network) else type(spec).__name__
        for name, module in children:
            self.add_module(name, module)

    def _get_name(self) -> str:  # print(model) shows InvertedResidual(...), not Block(...)
        return self.spec_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x
        for module in self._modules.values():
            x = module(skip, x) if isinstance(module, Add) else module(x)
        return x


@builder(Conv2d)
def _conv2d(s: Conv2d) -> nn.Module:
    return nn.Conv2d(s.in_c, s.out_c, s.kernel, s.stride, s.padding, s.dilation, s.groups, s.bias)


@builder(BatchNorm2d)
def _batchnorm2d(s: BatchNorm2d) -> nn.Module:
    return nn.BatchNorm2d(s.num_features, eps=s.eps, affine=s.affine)


@builder(Activation)
def _activation(s: Activation) -> nn.Module:
    # in place, as torchvision: fvcore then sees aten::relu_ / aten::hardtanh_
    if s.fn is Act.RELU:
        return nn.ReLU(inplace=True)
    if s.fn is Act.RELU6:
        return nn.ReLU6(inplace=True)
    return nn.Identity()


@builder(ResidualAdd)
def _residual_add(s: ResidualAdd) -> nn.Module:
    return Add()


@builder(GlobalAvgPool)
def _global_avg_pool(s: GlobalAvgPool) -> nn.Module:
    return GlobalAvgPool2d()


@builder(Dropout)
def _dropout(s: Dropout) -> nn.Module:
    return nn.Dropout(p=s.p)


@builder(Linear)
def _linear(s: Linear) -> nn.Module:
    return nn.Linear(s.in_features, s.out_features, bias=s.bias)


def build_node(node: Node) -> nn.Module:
    """The module for one spec node: a layer's builder, or a :class:`Block` of its children."""
    make = BUILDERS.get(type(node))
    if make is not None:
        return make(node)
    if not isinstance(node, BLOCK_TYPES):
        raise SpecError(f"{type(node).__name__} is neither a layer with a builder nor a block")
    return Block(node, [(name, build_node(child)) for name, child in node.children()])


def init_weights(model: nn.Module) -> nn.Module:
    """torchvision's MobileNet initialization: Kaiming-normal (fan out) convs, unit batch
    norm, N(0, 0.01) classifier, zero biases."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


def build(model: str | Network, alpha: float = 1.0, num_classes: int = DEFAULT_CLASSES) -> nn.Module:
    """The PyTorch model of a zoo name (with width multiplier ``alpha``) or of a spec.

    >>> net = build("mobilenet_v2", alpha=0.75).eval()
    >>> net(torch.zeros(1, 3, 224, 224)).shape
    torch.Size([1, 1000])
    """
    spec = model if isinstance(model, Network) else get_spec(model, alpha, num_classes)
    return init_weights(build_node(spec))


def build_layer(layer: Layer) -> nn.Module:
    """The module of a single layer spec (for kernel checks)."""
    return build_node(layer)

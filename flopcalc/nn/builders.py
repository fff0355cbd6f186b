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
from ..spec import (BLOCK_TYPES, Act, Activation, BatchNorm2d, ChannelScale, Conv2d, Dropout, Flatten, GlobalAvgPool,
                    Layer, LayerScale, Linear, MultiQueryAttention, Network, Node, ResidualAdd, SpecError)
from ..zoo import DEFAULT_CLASSES, get_spec

BUILDERS = Registry("builder")
builder = BUILDERS.register  # @builder(Conv2d) registers a module builder


class Add(nn.Module):
    """The residual add: ``block_input + x``, a module so hooks and counters can name it."""

    takes_block_input = True

    def forward(self, skip: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return skip + x


class Mul(nn.Module):
    """Squeeze-and-excitation's channel scale: ``block_input * gate``, the gate (N, C, 1, 1)."""

    takes_block_input = True

    def forward(self, skip: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        return gate * skip


class GlobalAvgPool2d(nn.Module):
    """(N, C, H, W) -> (N, C): torchvision's ``adaptive_avg_pool2d(x, 1)`` then ``flatten``;
    with ``keepdim`` (N, C, 1, 1), as squeeze-and-excitation pools."""

    def __init__(self, keepdim: bool = False):
        super().__init__()
        self.keepdim = keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.adaptive_avg_pool2d(x, 1)
        return y if self.keepdim else torch.flatten(y, 1)

    def extra_repr(self) -> str:
        return "keepdim=True" if self.keepdim else ""


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
            x = module(skip, x) if getattr(module, "takes_block_input", False) else module(x)
        return x


class BranchBlock(Block):
    """A block whose ``branches`` each start from its input; the child after them takes their outputs."""

    def __init__(self, spec: Node, children: list[tuple[str, nn.Module]]):
        super().__init__(spec, children)
        self.branches = tuple(spec.branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip, outputs = x, []
        for name, module in self._modules.items():
            if name in self.branches:
                x = module(skip)
                outputs.append(x)
            elif getattr(module, "joins_branches", False):
                x = module(*outputs)
            else:
                x = module(skip, x) if getattr(module, "takes_block_input", False) else module(x)
        return x


class LayerScale2d(nn.Module):
    """``x * gamma`` per channel, gamma starting at 1e-5 (timm's ``LayerScale2d``: its ``gamma``)."""

    def __init__(self, channels: int, init: float = 1e-5):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels,), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma.view(1, -1, 1, 1)


class MultiQueryAttention2d(nn.Module):
    """Multi-query attention of maps: queries (N, h * d_k, H, W), keys (N, d_k, h', w') and values
    (N, d_v, h', w') to (N, h * d_v, H, W), by ``scaled_dot_product_attention`` over (N, h, H * W, d_k)
    queries and (N, 1, h' * w', d) keys and values, as timm's ``MultiQueryAttention2d`` runs it."""

    joins_branches = True

    def __init__(self, heads: int, key_dim: int, value_dim: int):
        super().__init__()
        self.heads, self.key_dim, self.value_dim = heads, key_dim, value_dim

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        n, _, h, w = q.shape
        s = k.shape[2] * k.shape[3]  # not -1: an ONNX file's shape inference then knows it
        q = q.reshape(n, self.heads, self.key_dim, h * w).transpose(-1, -2).contiguous()
        k = k.reshape(n, self.key_dim, s).transpose(1, 2).unsqueeze(1).contiguous()
        v = v.reshape(n, self.value_dim, s).transpose(1, 2).unsqueeze(1).contiguous()
        o = F.scaled_dot_product_attention(q, k, v)
        return o.transpose(1, 2).reshape(n, h, w, self.heads * self.value_dim).permute(0, 3, 1, 2).contiguous()

    def extra_repr(self) -> str:
        return f"heads={self.heads}, key_dim={self.key_dim}, value_dim={self.value_dim}"


@builder(Conv2d)
def _conv2d(s: Conv2d) -> nn.Module:
    return nn.Conv2d(s.in_c, s.out_c, s.kernel, s.stride, s.padding, s.dilation, s.groups, s.bias)


@builder(BatchNorm2d)
def _batchnorm2d(s: BatchNorm2d) -> nn.Module:
    return nn.BatchNorm2d(s.num_features, eps=s.eps, momentum=s.momentum, affine=s.affine)


ACTIVATIONS = {Act.RELU: nn.ReLU, Act.RELU6: nn.ReLU6, Act.HARDSWISH: nn.Hardswish,
               Act.HARDSIGMOID: nn.Hardsigmoid, Act.SILU: nn.SiLU}


@builder(Activation)
def _activation(s: Activation) -> nn.Module:
    # in place where torchvision is (fvcore then sees aten::relu_, aten::hardtanh_, ...)
    if s.fn is Act.IDENTITY:
        return nn.Identity()
    if s.fn is Act.SIGMOID:
        return nn.Sigmoid()
    if s.fn is Act.GELU:
        return nn.GELU()
    return ACTIVATIONS[s.fn](inplace=s.inplace)


@builder(ChannelScale)
def _channel_scale(s: ChannelScale) -> nn.Module:
    return Mul()


@builder(ResidualAdd)
def _residual_add(s: ResidualAdd) -> nn.Module:
    return Add()


@builder(GlobalAvgPool)
def _global_avg_pool(s: GlobalAvgPool) -> nn.Module:
    return GlobalAvgPool2d(s.keepdim)


@builder(Dropout)
def _dropout(s: Dropout) -> nn.Module:
    return nn.Dropout(p=s.p)


@builder(Flatten)
def _flatten(s: Flatten) -> nn.Module:
    return nn.Flatten(1)


@builder(LayerScale)
def _layer_scale(s: LayerScale) -> nn.Module:
    return LayerScale2d(s.channels)


@builder(MultiQueryAttention)
def _multi_query_attention(s: MultiQueryAttention) -> nn.Module:
    return MultiQueryAttention2d(s.heads, s.key_dim, s.value_dim)


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
    kind = BranchBlock if getattr(node, "branches", ()) else Block
    return kind(node, [(name, build_node(child)) for name, child in node.children()])


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


def build(model, alpha: float = 1.0, num_classes: int = DEFAULT_CLASSES, **variant) -> nn.Module:
    """The PyTorch model of a zoo name or a spec file's Family (with width multiplier ``alpha``
    and the variant options of :func:`~flopcalc.zoo.get_spec`: ``small_input``, ``full_conv``,
    ``rounding``), or of a concrete Network spec.

    >>> net = build("mobilenet_v2", alpha=0.75).eval()
    >>> net(torch.zeros(1, 3, 224, 224)).shape
    torch.Size([1, 1000])
    """
    spec = model if isinstance(model, Network) else get_spec(model, alpha, num_classes, **variant)
    return init_weights(build_node(spec))


def build_layer(layer: Layer) -> nn.Module:
    """The module of a single layer spec (for kernel checks)."""
    return build_node(layer)

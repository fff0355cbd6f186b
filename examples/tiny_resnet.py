"""A small ResNet-like network written the way people write their own models (functional calls in
forward, a factorized 1x3 convolution, mean and max pooling concatenated, a layer norm), for
`flopcalc table examples/tiny_resnet.py:make`."""

import torch
from torch import nn
from torch.nn import functional as F


class Basic(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + x)  # the residual add, a functional call


class TinyResNet(nn.Module):
    def __init__(self, classes: int = 10, width: int = 16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(Basic(width), Basic(width))
        self.factorized = nn.Conv2d(width, width, (1, 3), padding=(0, 1))  # a 1x3 kernel, as Inception's
        self.norm = nn.LayerNorm(2 * width)
        self.fc = nn.Linear(2 * width, classes)

    def forward(self, x):
        x = self.factorized(self.blocks(self.stem(x)))
        top = x.flatten(2).topk(4, dim=2).values.mean(2)  # the mean of each channel's 4 largest values
        x = torch.cat([x.mean((2, 3)), top], 1)  # "concat pooling"
        return self.fc(self.norm(x))


def make(classes: int = 10, width: int = 16) -> nn.Module:
    return TinyResNet(classes, width)

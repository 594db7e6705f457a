"""The CIFAR ResNets of He et al. 2016 (section 4.2): depth 6n + 2, three stages of
16/32/64 planes with n basic blocks each, global average pool, ``linear``.

ResNet-56 → ResNet-20 and ResNet-110 → ResNet-32 are the pairs of the KD literature's
CIFAR tables (seed 001, table 1; CRD); ResNet-20 → ResNet-8 fits a 2-core CPU budget.
Blocks are those of ``resnet_cifar`` (projection shortcut where the shape changes).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.registry import MODELS
from dfkd.nets.resnet_cifar import BasicBlock


class HeResNet(nn.Module):
    """conv3 16 -> layer1 (16) -> layer2 (32, /2) -> layer3 (64, /2) -> pool -> linear."""

    groups = ("layer1", "layer2", "layer3")  # stage outputs (feature-knowledge points)

    def __init__(self, depth: int, in_channels: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"a CIFAR ResNet has depth 6n + 2, got {depth}")
        n = (depth - 2) // 6
        self.in_planes = 16
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(16, n, stride=1)
        self.layer2 = self._make_layer(32, n, stride=2)
        self.layer3 = self._make_layer(64, n, stride=2)
        self.linear = nn.Linear(64, num_classes)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        layers = []
        for s in [stride] + [1] * (blocks - 1):
            layers.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))


def _register(depth: int) -> None:
    def factory(in_channels: int = 3, num_classes: int = 10) -> HeResNet:
        return HeResNet(depth, in_channels, num_classes)

    factory.__doc__ = f"ResNet-{depth} for 32x32 inputs (He et al. 2016, section 4.2)."
    MODELS.add(f"resnet{depth}", factory)


for _depth in (8, 14, 20, 32, 44, 56, 110):
    _register(_depth)

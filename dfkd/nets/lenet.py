"""LeNet-5 and LeNet-5-half as used by DAFL (Chen et al. 2019) for MNIST-like data, and
LeNet-5 with BatchNorm (``lenet5_bn``), the embedded teacher whose BN statistics the
inversion methods (DeepInversion, CMI, Fast-DFKD, NAYER) and the BN prior need.

Attribute names follow the DAFL code (``conv1 … fc2``) so its checkpoints load.
Inputs are 32x32 (28x28 images padded by 2).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from dfkd.core.errors import DfkdError
from dfkd.core.registry import MODELS


class LeNet5(nn.Module):
    """conv5 c1 -> pool -> conv5 c2 -> pool -> conv5 c3 -> fc f -> fc classes."""

    groups = ("maxpool1", "maxpool2")  # feature maps for attention transfer

    def __init__(self, in_channels: int = 1, num_classes: int = 10,
                 widths: tuple[int, int, int] = (6, 16, 120), hidden: int = 84,
                 arch: str = "lenet5", batchnorm: bool = False) -> None:
        super().__init__()
        self.arch = arch
        c1, c2, c3 = widths

        def norm(kind, n: int) -> nn.Module:  # BatchNorm after each hidden layer, or nothing
            return kind(n) if batchnorm else nn.Identity()

        self.conv1 = nn.Conv2d(in_channels, c1, kernel_size=5)
        self.bn1 = norm(nn.BatchNorm2d, c1)
        self.relu1 = nn.ReLU()
        self.maxpool1 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=5)
        self.bn2 = norm(nn.BatchNorm2d, c2)
        self.relu2 = nn.ReLU()
        self.maxpool2 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.conv3 = nn.Conv2d(c2, c3, kernel_size=5)
        self.bn3 = norm(nn.BatchNorm2d, c3)
        self.relu3 = nn.ReLU()
        self.fc1 = nn.Linear(c3, hidden)
        self.bn4 = norm(nn.BatchNorm1d, hidden)
        self.relu4 = nn.ReLU()
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (32, 32):
            h, w = x.shape[-2:]
            raise DfkdError(f"{self.arch} expects 32x32 inputs, got {h}x{w}: pad or resize the "
                            "dataset to 32x32")
        out = self.maxpool1(self.relu1(self.bn1(self.conv1(x))))
        out = self.maxpool2(self.relu2(self.bn2(self.conv2(out))))
        out = self.relu3(self.bn3(self.conv3(out))).flatten(1)
        return self.fc2(self.relu4(self.bn4(self.fc1(out))))


@MODELS.register("lenet5")
def lenet5(in_channels: int = 1, num_classes: int = 10) -> LeNet5:
    """DAFL's MNIST teacher: 6/16/120 conv channels, 84 hidden units."""
    return LeNet5(in_channels, num_classes)


@MODELS.register("lenet5_half")
def lenet5_half(in_channels: int = 1, num_classes: int = 10) -> LeNet5:
    """DAFL's student: half the channels of every layer."""
    return LeNet5(in_channels, num_classes, widths=(3, 8, 60), hidden=42,
                  arch="lenet5_half")


@MODELS.register("lenet5_bn")
def lenet5_bn(in_channels: int = 1, num_classes: int = 10) -> LeNet5:
    """LeNet-5 with BatchNorm after each hidden layer: a teacher with BN statistics."""
    return LeNet5(in_channels, num_classes, arch="lenet5_bn", batchnorm=True)


@MODELS.register("lenet5_half_bn")
def lenet5_half_bn(in_channels: int = 1, num_classes: int = 10) -> LeNet5:
    """LeNet-5-half with BatchNorm after each hidden layer."""
    return LeNet5(in_channels, num_classes, widths=(3, 8, 60), hidden=42,
                  arch="lenet5_half_bn", batchnorm=True)

"""Learnable parts of feature losses that are more than a projection.

FT's paraphraser and translator (Kim et al., NeurIPS 2018, section 3.1) and VID's
regressor (Ahn et al., CVPR 2019, section 4: three 1×1 convolutions, ReLU between).
"""
from __future__ import annotations

import torch
import torch.nn as nn


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                         nn.BatchNorm2d(c_out), nn.LeakyReLU(0.1))


class Paraphraser(nn.Module):
    """Autoencoder on the teacher's feature map: ``encode`` gives the factor (k·C
    channels), ``forward`` the reconstruction it is trained on."""

    def __init__(self, channels: int, rate: float = 0.5) -> None:
        super().__init__()
        factor = max(1, round(channels * rate))
        self.encoder = nn.Sequential(_conv(channels, channels), _conv(channels, factor))
        self.decoder = nn.Sequential(_conv(factor, channels),
                                     nn.Conv2d(channels, channels, 3, padding=1))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class Translator(nn.Module):
    """Maps the student's feature map to a factor of the paraphraser's size."""

    def __init__(self, channels: int, factor: int) -> None:
        super().__init__()
        self.net = nn.Sequential(_conv(channels, channels), _conv(channels, factor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class VIDRegressor(nn.Module):
    """μ(s): the mean of the Gaussian q(t | s), and the per-channel log-scale of its
    variance (σ² = softplus(α) + ε), learned together."""

    def __init__(self, student_channels: int, teacher_channels: int) -> None:
        super().__init__()
        mid = max(student_channels, teacher_channels)
        self.mean = nn.Sequential(
            nn.Conv2d(student_channels, mid, 1), nn.ReLU(),
            nn.Conv2d(mid, mid, 1), nn.ReLU(),
            nn.Conv2d(mid, teacher_channels, 1))
        # softplus(α) + ε starts near 1 (the paper's initial variance)
        self.log_scale = nn.Parameter(torch.full((teacher_channels,), 0.5413))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mean(x)

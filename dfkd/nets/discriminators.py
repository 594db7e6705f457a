"""Discriminators of classifier distillation: on output vectors (adversarial student KD,
Wang et al. 2018, and ANC, Belagiannis et al. 2018) and on feature maps (AFD, Chung et al.
2020). The image discriminators of GANs (PatchGAN, DCGAN) stand beside their generators in
``generators/``, as in the original pix2pix and DCGAN code."""
from __future__ import annotations

import torch
import torch.nn as nn


class OutputDiscriminator(nn.Module):
    """MLP on a batch of vectors (N, D) → one logit each: two hidden LeakyReLU(0.2)
    layers, no normalization (its outputs on teacher and student batches stay independent)."""

    def __init__(self, in_features: int, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


class FeatureDiscriminator(nn.Module):
    """A real/fake logit per feature map, (N, C, H, W) -> (N,): conv 3×3 stride 2, BN,
    LeakyReLU(0.2), conv 3×3, LeakyReLU(0.2), global average pool, linear."""

    def __init__(self, channels: int, width: int = 64) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, stride=2, padding=1), nn.BatchNorm2d(width),
            nn.LeakyReLU(0.2), nn.Conv2d(width, width, 3, padding=1), nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.logit = nn.Linear(width, 1)

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.logit(self.features(feature_map)).squeeze(1)

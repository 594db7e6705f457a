"""Random views of synthetic images for the student step (kornia augmentations).

Data-free students see only what the generator makes, and a generated batch is far more
expensive than a student step on it. Showing the student random crops/flips of a batch,
each labelled afresh by the teacher, multiplies the inputs it learns from (as DeepInversion
and Fast-DFKD do with their synthetic data). ``mixup`` blends random pairs of the batch
(Zhang et al. 2018); since the teacher labels the blends, they need no label mixing and
reach the regions between the generator's modes.
"""
from __future__ import annotations

from dataclasses import dataclass

import kornia.augmentation as K
import torch
import torch.nn as nn


@dataclass
class AugmentConfig:
    """Random views of the synthetic images the student learns from (``dfkd.data.augment``).

    The teacher labels each view afresh, so every student step on a stored or reused
    batch sees new inputs at the price of one cheap teacher forward pass.
    """

    flip: bool = False  # random horizontal flip
    crop_padding: int = 0  # random crop back to size after zero-padding this many pixels
    mixup: float = 0.0  # blend random pairs with weight ~ Beta(mixup, mixup); 0 disables


class MixUp(nn.Module):
    """x_i ← λ_i·x_i + (1 − λ_i)·x_π(i), λ_i ~ Beta(α, α), π a random permutation."""

    def __init__(self, alpha: float) -> None:
        super().__init__()
        self.beta = torch.distributions.Beta(alpha, alpha)
        self.alpha = alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lam = self.beta.sample((len(x),)).to(x.device, x.dtype).view(-1, *[1] * (x.dim() - 1))
        partner = x[torch.randperm(len(x), device=x.device)]
        return lam * x + (1 - lam) * partner


def build_augment(cfg: AugmentConfig, image_size: int) -> nn.Module | None:
    """The augmentation pipeline ``cfg`` asks for, or ``None`` when it asks for none."""
    steps: list[nn.Module] = []
    if cfg.crop_padding:
        steps.append(K.RandomCrop((image_size, image_size), padding=cfg.crop_padding))
    if cfg.flip:
        steps.append(K.RandomHorizontalFlip())
    if cfg.mixup:
        steps.append(MixUp(cfg.mixup))
    return nn.Sequential(*steps) if steps else None

"""Random views of synthetic images for the student step (kornia augmentations).

Data-free students see only what the generator makes, and a generated batch is far more
expensive than a student step on it. Showing the student random crops/flips of a batch,
each labelled afresh by the teacher, multiplies the inputs it learns from (as DeepInversion
and Fast-DFKD do with their synthetic data).
"""
from __future__ import annotations

import kornia.augmentation as K
import torch.nn as nn

from dfkd.config import AugmentConfig
from dfkd.errors import ConfigError


def build_augment(cfg: AugmentConfig, image_size: int) -> nn.Module | None:
    """The augmentation pipeline ``cfg`` asks for, or ``None`` when it asks for none."""
    if cfg.crop_padding < 0:
        raise ConfigError(f"augment.crop_padding must be >= 0, got {cfg.crop_padding}")
    steps: list[nn.Module] = []
    if cfg.crop_padding:
        steps.append(K.RandomCrop((image_size, image_size), padding=cfg.crop_padding))
    if cfg.flip:
        steps.append(K.RandomHorizontalFlip())
    return nn.Sequential(*steps) if steps else None

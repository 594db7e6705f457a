"""What a GAN-family run gives every method beside its networks, options and data."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class GANSetup:
    """Batches are a function of (seed, iteration), ``batch_size`` images each, on ``device``."""

    batch_size: int
    seed: int
    device: torch.device

"""What a GAN-family run gives every method beside its networks and options: the setup
(batch, seed, device) and the image-to-image data spec both GAN families take."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class GANSetup:
    """Batches are a function of (seed, iteration), ``batch_size`` images each, on ``device``."""

    batch_size: int
    seed: int
    device: torch.device


@dataclass
class TranslationData:
    """Training images of an image-to-image task: ``inputs[i]`` → ``targets[i]`` when
    ``paired`` (pix2pix), else unpaired images of the two domains, drawn independently
    (CycleGAN; GAN Compression: ``targets`` are real images of the target domain)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    paired: bool

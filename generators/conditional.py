"""Class-conditional generator G(z, y) (CGDD, Yu et al. 2021; MAD's conditional variant).

A learned embedding e_y of the asked class is added to the latent vector, and the sum
drives the DFAD generator: G(z, y) = G_DFAD(z + e_y). MAD (Do et al. 2022) reports the
sum to work better than concatenation. Asking for each class by name keeps the synthetic
batch class-balanced by construction, a remedy for mode collapse (seed 000, section 5).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from dfkd.core.registry import GENERATORS
from generators.dafl import DAFLGenerator


class ConditionalGenerator(DAFLGenerator):
    """The DAFL/DFAD generator driven by ``z + embedding(y)``."""

    conditional = True

    def __init__(self, nz: int = 100, ngf: int = 64, img_size: int = 32, channels: int = 1,
                 num_classes: int = 10) -> None:
        super().__init__(nz, ngf, img_size, channels, bn_eps=1e-5)
        self.num_classes = num_classes
        self.label_emb = nn.Embedding(num_classes, nz)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if labels.shape != z.shape[:1]:
            raise ValueError(f"one label per latent vector expected, got {tuple(labels.shape)} "
                             f"labels for {z.shape[0]} vectors")
        return super().forward(z + self.label_emb(labels))


@GENERATORS.register("conditional")
def conditional_generator(nz: int, ngf: int, img_size: int, channels: int,
                          num_classes: int = 10) -> ConditionalGenerator:
    """CGDD's class-conditional generator (label embedding summed with z)."""
    return ConditionalGenerator(nz, ngf, img_size, channels, num_classes)


def balanced_labels(n: int, num_classes: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``n`` labels, each class ``n // K`` or ``n // K + 1`` times, in random order."""
    labels = torch.arange(n, device=device) % num_classes
    return labels[torch.randperm(n, device=device)]

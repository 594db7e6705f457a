"""Several generators sharing one batch, against mode collapse (seed 000, section 5).

The review's remedy for mode collapse in GAN-based distillation: several generators, each
free to capture a different part of the data distribution, trained in parallel against
the same student, with a term that rewards them for differing. ``MultiGenerator`` splits
each batch of latents among its members (member i draws the i-th slice) and remembers the
slice sizes, so ``member_diversity`` can compare what the teacher sees in each member's
samples (``dfkd.losses.priors.member_diversity_loss``).
"""
from __future__ import annotations

import torch
import torch.nn as nn


class MultiGenerator(nn.Module):
    """``k`` generators of one architecture; a batch is the concatenation of their slices."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError("a multi-generator needs at least two members")
        self.members = nn.ModuleList(members)
        self.conditional = bool(getattr(members[0], "conditional", False))
        self.sizes: list[int] = []  # slice sizes of the last batch, member by member

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if len(z) < len(self.members):
            raise ValueError(f"a batch of {len(z)} cannot feed {len(self.members)} generators")
        zs = torch.tensor_split(z, len(self.members))
        if self.conditional:
            ys = torch.tensor_split(labels, len(self.members))
            outs = [g(zi, yi) for g, zi, yi in zip(self.members, zs, ys)]
        else:
            outs = [g(zi) for g, zi in zip(self.members, zs)]
        self.sizes = [len(o) for o in outs]
        return torch.cat(outs)

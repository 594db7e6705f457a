"""Losses on intermediate feature maps (feature knowledge). Pure functions."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F


def attention_map(features: torch.Tensor) -> torch.Tensor:
    """Spatial attention of a feature map (Zagoruyko & Komodakis 2017, eq. 2 with p = 2):
    a = mean_c A_c², flattened and L2-normalized per sample. (N, C, H, W) -> (N, H·W)."""
    return F.normalize(features.pow(2).mean(dim=1).flatten(1), dim=1)


def attention_transfer(student_features: Sequence[torch.Tensor],
                       teacher_features: Sequence[torch.Tensor]) -> torch.Tensor:
    """Σ_l mean_{n,j} (a_S^l − a_T^l)², summed over the feature groups l.

    The squared difference of normalized attention maps, averaged over batch and positions,
    as in the public code of AT and ZSKT (Micaelli & Storkey 2019), whose weight β = 250
    is calibrated to this form. Channel counts may differ; spatial sizes must match.
    """
    if len(student_features) != len(teacher_features):
        raise ValueError(f"attention transfer needs as many student as teacher feature maps, "
                         f"got {len(student_features)} and {len(teacher_features)}")
    total = student_features[0].new_zeros(())
    for s, t in zip(student_features, teacher_features):
        if s.shape[-2:] != t.shape[-2:]:
            raise ValueError(f"attention maps differ in size: student {tuple(s.shape[-2:])}, "
                             f"teacher {tuple(t.shape[-2:])}")
        total = total + (attention_map(s) - attention_map(t)).pow(2).mean()
    return total

"""Generator priors: what a synthesized batch should look like to the teacher.

DAFL (Chen et al. 2019, eqs. 2-5): the teacher should be confident on each image
(one-hot), use all classes across the batch (information entropy), and respond
strongly in its features (activation). Pure functions of the teacher's outputs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def onehot_loss(teacher_logits: torch.Tensor) -> torch.Tensor:
    """L_oh = CE(T(x), argmax T(x)) (DAFL eq. 2)."""
    return F.cross_entropy(teacher_logits, teacher_logits.argmax(dim=1))


def class_balance_loss(teacher_logits: torch.Tensor) -> torch.Tensor:
    """L_ie = Σ_j p̄_j log p̄_j, p̄ the batch-mean softmax (DAFL eq. 4).

    This is the negative entropy of the mean prediction: minimal (−log K) when every class
    is predicted equally often across the batch.
    """
    mean_p = F.softmax(teacher_logits, dim=1).mean(dim=0)
    return (mean_p * torch.log(mean_p.clamp_min(1e-12))).sum()


def activation_loss(features: torch.Tensor) -> torch.Tensor:
    """L_a = −mean |f_T(x)| over the teacher's penultimate features (DAFL eq. 3)."""
    return -features.abs().mean()

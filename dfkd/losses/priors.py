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
    """L_ie = Σ_j p̄_j log₁₀ p̄_j, p̄ the batch-mean softmax (DAFL eq. 4).

    This is the negative entropy of the mean prediction: minimal (−log₁₀ K) when every
    class is predicted equally often across the batch. Base 10 as DAFL's code computes it
    (``torch.log10`` in DAFL_train.py; the paper writes log): with ln the published weight
    α_ie would act 2.3× stronger.
    """
    mean_p = F.softmax(teacher_logits, dim=1).mean(dim=0)
    return (mean_p * torch.log10(mean_p.clamp_min(1e-12))).sum()


def activation_loss(features: torch.Tensor) -> torch.Tensor:
    """L_a = −mean |f_T(x)| over the teacher's features (DAFL eq. 3; DAFL's code averages
    over samples and dimensions)."""
    return -features.abs().mean()


def member_diversity_loss(teacher_logits: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """−mean_{i<j} TV(p̄_i, p̄_j): p̄_i the teacher's mean softmax over the samples of
    generator i (consecutive slices of ``sizes``), TV the total variation ½‖·‖₁ in [0, 1].

    Minimal (−1 for two members) when the members make samples of disjoint classes, 0 when
    they all look alike to the teacher: rewards generators for covering different parts
    of the distribution (multi-generator remedy for mode collapse, seed 000 section 5).
    """
    if len(sizes) < 2 or sum(sizes) != len(teacher_logits):
        raise ValueError(f"member sizes {sizes} do not split a batch of {len(teacher_logits)}")
    means = torch.stack([p.mean(dim=0) for p in
                         F.softmax(teacher_logits, dim=1).split(sizes)])
    pairs = torch.combinations(torch.arange(len(sizes)), r=2)
    tv = 0.5 * (means[pairs[:, 0]] - means[pairs[:, 1]]).abs().sum(dim=1)
    return -tv.mean()

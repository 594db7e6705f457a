"""The loss terms of data-free knowledge amalgamation (Ye et al., CVPR 2020; the method is
``methods/amalgamation.py``): pure functions on logits and probabilities."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from dfkd.discriminator_distillation.multi_teacher import routing
from dfkd.losses import kd_kl


def sparsity_loss(probs: torch.Tensor) -> torch.Tensor:
    """L_dis = (1/C)·Σ_i |y^i| (eq. 7), averaged over the batch."""
    return probs.abs().mean()


def consistency_loss(feature_logits: torch.Tensor, image_logits: torch.Tensor) -> torch.Tensor:
    """l(O(Fʲ), O(I_g)) of eq. 11 [reconstructed]: KL(the teacher's softmax on the image ‖ its
    softmax on the intermediate feature), the image's side a constant target. A distribution
    match: a teacher the image is not given to stays as unsure on Fʲ as on the image."""
    return kd_kl(feature_logits, image_logits.detach(), 1.0)


def routed_onehot_loss(member_logits: list[torch.Tensor]) -> torch.Tensor:
    """L_oh of the teacher each image is given to (the more confident one) only: the mean over
    images of that teacher's CE to its own argmax; the other teachers are left uncertain."""
    chosen = routing([z.detach() for z in member_logits])
    per_teacher = torch.stack([F.cross_entropy(z, z.argmax(dim=1), reduction="none")
                               for z in member_logits], dim=1)
    return per_teacher.gather(1, chosen[:, None]).mean()


def branch_loss(student_logits: torch.Tensor, member_logits: list[torch.Tensor],
                classes: list[list[int]], temperature: float) -> torch.Tensor:
    """Σ_m KL(teacher m ‖ the student's logits of teacher m's classes) (eqs. 13-14 at the last
    block, λ_m = 1, τ² scaled as Hinton's KD)."""
    return sum(kd_kl(student_logits[:, own], z.detach(), temperature)
               for z, own in zip(member_logits, classes))

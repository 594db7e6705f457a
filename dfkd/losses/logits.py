"""Losses between teacher and student logits (output knowledge). Pure functions."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
          temperature: float = 1.0) -> torch.Tensor:
    """Hinton et al. 2015: τ²·KL(softmax(t/τ) ‖ softmax(s/τ)), averaged over the batch.

    DAFL's student loss is this with τ = 1.
    """
    log_p_s = F.log_softmax(student_logits / temperature, dim=1)
    log_p_t = F.log_softmax(teacher_logits / temperature, dim=1)
    kl = F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True)
    return kl * temperature ** 2


def logit_l1(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """DFAD (Fang et al. 2019, eq. 3): mean absolute error ‖t − s‖₁ / (N·K) between logits."""
    return F.l1_loss(student_logits, teacher_logits)

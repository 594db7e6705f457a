"""The agreement-masked adversarial term of NAYER's generator loss (Tran et al., CVPR 2024;
the same term as CMI's and Fast-DFKD's "decision adversarial distillation", Fang et al.
2021/2022). A pure function.

The generator seeks samples on which the student still disagrees with the teacher's
*distribution* but agrees on its *decision*: the KL is counted only where the two argmax
classes agree, so the generator is not pushed across the teacher's decision boundary (where
the samples would stop being of the class they were asked for):
    L_adv = −(1/N)·Σ_i 1[argmax S(x_i) = argmax T(x_i)]·KL(p_T(x_i) ‖ p_S(x_i)),  τ = 1
(official code: ``-(kldiv(s_out, t_out, reduction='none').sum(1) * mask).mean()``, the mean
over the whole batch, masked samples counting as zeros). This function returns the
positive masked mean; the generator's loss subtracts it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def agreement_masked_kl(student_logits: torch.Tensor,
                        teacher_logits: torch.Tensor) -> torch.Tensor:
    """(1/N)·Σ_i m_i·KL(softmax(t_i) ‖ softmax(s_i)), m_i = 1 where the argmaxes agree.

    Gradients flow into both logits (the official code detaches neither); the mask has none.
    """
    if student_logits.dim() != 2 or student_logits.shape != teacher_logits.shape:
        raise ValueError("student and teacher logits must both be (N, K) with the same shape; "
                         f"got {tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}")
    kl = F.kl_div(F.log_softmax(student_logits, dim=1), F.log_softmax(teacher_logits, dim=1),
                  reduction="none", log_target=True).sum(dim=1)
    agree = (student_logits.argmax(dim=1) == teacher_logits.argmax(dim=1)).to(kl.dtype)
    return (kl * agree).mean()

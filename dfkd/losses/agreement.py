"""The "decision adversarial" synthesis term of CMI (Fang et al., IJCAI 2021), Fast-DFKD
(Fang et al., AAAI 2022) and NAYER (Tran et al., CVPR 2024): synthesize where the student
still agrees with the teacher on the class but its distribution is far from the teacher's,

    L_adv = −(1/N) Σ_i m_i · KL(p_T(x_i) ‖ p_S(x_i)),   m_i = [argmax p_S(x_i) = argmax p_T(x_i)]

at τ = 1, averaged over the *whole* batch, not over the agreeing samples (as their official
code computes it: zju-vipa/CMI and Fast-Datafree, tmtuan1307/nayer).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def agreement_masked_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor
                        ) -> torch.Tensor:
    """(1/N) Σ_i m_i·KL(p_T ‖ p_S) over samples where student and teacher agree on the class
    (the mask carries no gradient; gradients flow into both logits); L_adv is its negative."""
    if student_logits.shape != teacher_logits.shape or student_logits.dim() != 2:
        raise ValueError("student and teacher logits must both be (N, K) with the same shape; "
                         f"got {tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}")
    log_p_s = F.log_softmax(student_logits, dim=1)
    log_p_t = F.log_softmax(teacher_logits, dim=1)
    per_sample = (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=1)
    agree = (student_logits.argmax(dim=1) == teacher_logits.argmax(dim=1)).to(per_sample.dtype)
    return (per_sample * agree).mean()

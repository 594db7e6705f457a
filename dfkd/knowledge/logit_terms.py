"""Logit terms of the ``student_loss:`` block: CE, KD, L1, DKD, PR-DKD, Tf-KD."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from dfkd.knowledge.terms import Term, Views, term
from dfkd.losses import (
    dkd,
    kd_kl,
    logit_l1,
    pr_dkd,
    virtual_teacher_kd,
)


@term("ce")
class CrossEntropy(Term):
    """CE(S(x), y) with the true labels (data-driven) or the teacher's/asked class (data-free)."""

    needs_targets = True
    needs_teacher = False

    def forward(self, v: Views) -> torch.Tensor:
        return F.cross_entropy(v.student_logits, v.targets)


@term("kd")
class KD(Term):
    """Hinton et al. 2015: τ²·KL(p_T^τ ‖ p_S^τ), τ = knowledge.temperature."""

    def forward(self, v: Views) -> torch.Tensor:
        return kd_kl(v.student_logits, v.teacher_logits, self.cfg.temperature)


@term("l1")
class LogitL1(Term):
    """DFAD's mean absolute error between logits."""

    def forward(self, v: Views) -> torch.Tensor:
        return logit_l1(v.student_logits, v.teacher_logits)


@term("dkd")
class DKD(Term):
    """Decoupled KD (Zhao et al. 2022): α·TCKD + β·NCKD."""

    needs_targets = True

    def forward(self, v: Views) -> torch.Tensor:
        c = self.cfg
        return dkd(v.student_logits, v.teacher_logits, v.targets, c.dkd.alpha, c.dkd.beta,
                   c.temperature)


@term("pr_dkd")
class PerceptionReconstructionDKD(Term):
    """DKD on per-class batch-standardized logits (seed 003)."""

    needs_targets = True

    def forward(self, v: Views) -> torch.Tensor:
        c = self.cfg
        return pr_dkd(v.student_logits, v.teacher_logits, v.targets, c.dkd.alpha, c.dkd.beta,
                      c.temperature)


@term("tf_kd")
class VirtualTeacher(Term):
    """Tf-KD (Yuan et al. 2020): KD from a hand-made virtual teacher, no teacher needed."""

    needs_targets = True
    needs_teacher = False

    def forward(self, v: Views) -> torch.Tensor:
        c = self.cfg
        return virtual_teacher_kd(v.student_logits, v.targets, c.tf_kd.virtual_prob,
                                  c.tf_kd.virtual_temperature)

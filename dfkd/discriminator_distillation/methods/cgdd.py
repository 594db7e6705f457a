"""CGDD: Conditional Generative Data-free Knowledge Distillation (Yu et al., 2021).

A class-conditional generator G(z, y) is asked for each class by name, with the preset
label as ground truth, within an adversarial game against the student:
    L_G = α_ce·CE(T(x), y) − α_adv·KL(p_T(x) ‖ p_S(x)),   x = G(z, y), y class-balanced
The student learns from the teacher with KD, CE toward the preset label, and attention
transfer on the group feature maps (as in ZSKT):
    L_S = α_kd·KL(p_T ‖ p_S) + α_sce·CE(S(x), y) + β·Σ_l AT_l
Replayed samples (whose preset label is not stored) take the teacher's class as target.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dfkd.discriminator_distillation.methods.base import DataFreeMethod
from dfkd.discriminator_distillation.registry import METHODS
from dfkd.losses import kd_kl


@dataclass
class CGDDOptions:
    """The weights of L_G and L_S above (reconstructed defaults: see configs/cgdd/*.yaml)."""

    ce: float = 1.0  # α_ce: the teacher's CE toward the asked class, in L_G
    adv: float = 1.0  # α_adv: the adversarial KL, in L_G
    kd: float = 1.0  # α_kd: the student's KD, in L_S
    student_ce: float = 1.0  # α_sce: the student's CE toward the asked class, in L_S
    at: float = 250.0  # β: attention transfer, in L_S
    temperature: float = 1.0


@METHODS.register("cgdd")
class CGDD(DataFreeMethod):
    """Conditional generator with label CE; student KD + label CE + attention transfer."""

    Options = CGDDOptions
    uses_attention = True
    needs_conditional = True

    def generator_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        labels = self.labels(self.batch_size)
        images = self.sample(labels=labels)
        teacher_logits = self.teacher(images)
        ce = F.cross_entropy(teacher_logits, labels)
        adv = kd_kl(self.student(images), teacher_logits, self.options.temperature)
        self.keep_batch(iteration, images, teacher_logits, labels)
        return {"loss": self.options.ce * ce - self.options.adv * adv, "ce": ce,
                "adv": adv}

    def distill(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                targets: torch.Tensor) -> dict[str, torch.Tensor]:
        student_logits, teacher_logits, at = self.with_attention(images)
        kd = kd_kl(student_logits, teacher_logits, self.options.temperature)
        ce = F.cross_entropy(student_logits, targets)
        o = self.options
        loss = o.kd * kd + o.student_ce * ce + o.at * at
        return {"loss": loss, "kd": kd, "ce": ce, "at": at}

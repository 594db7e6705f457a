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

import torch
import torch.nn.functional as F

from dfkd.core.registry import METHODS
from dfkd.discriminator_distillation.methods.base import DataFreeMethod
from dfkd.losses import kd_kl


@METHODS.register("cgdd")
class CGDD(DataFreeMethod):
    """Conditional generator with label CE; student KD + label CE + attention transfer."""

    loss_defaults = {"ce": 1.0, "adv": 1.0, "kd": 1.0, "student_ce": 1.0, "at": 250.0,
                     "temperature": 1.0}
    uses_attention = True
    needs_conditional = True

    def generator_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        labels = self.labels(self.batch_size)
        images = self.sample(labels=labels)
        teacher_logits = self.teacher(images)
        ce = F.cross_entropy(teacher_logits, labels)
        adv = kd_kl(self.student(images), teacher_logits, self.weights["temperature"])
        self.keep_batch(iteration, images, teacher_logits, labels)
        return {"loss": self.weights["ce"] * ce - self.weights["adv"] * adv, "ce": ce,
                "adv": adv}

    def distill(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                targets: torch.Tensor) -> dict[str, torch.Tensor]:
        student_logits, teacher_logits, at = self.with_attention(images)
        kd = kd_kl(student_logits, teacher_logits, self.weights["temperature"])
        ce = F.cross_entropy(student_logits, targets)
        w = self.weights
        loss = w["kd"] * kd + w["student_ce"] * ce + w["at"] * at
        return {"loss": loss, "kd": kd, "ce": ce, "at": at}

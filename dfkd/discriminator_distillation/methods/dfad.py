"""DFAD: Data-Free Adversarial Distillation (Fang et al., 2019).

A min-max game on the mean absolute error between logits (eqs. 3-4):
    student:   min_S  ‖T(x) − S(x)‖₁      on fresh samples x = G(z), G fixed
    generator: max_G  ‖T(G(z)) − S(G(z))‖₁  (its loss is the negative)
G seeks the inputs where student and teacher disagree most; S then closes the gap.
"""
from __future__ import annotations

import torch

from dfkd.discriminator_distillation.methods.base import DataFreeMethod
from dfkd.discriminator_distillation.registry import METHODS
from dfkd.losses import logit_l1


@METHODS.register("dfad")
class DFAD(DataFreeMethod):
    """Adversarial L1 between teacher and student logits."""

    def generator_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        images = self.sample()
        gap = logit_l1(self.student(images), self.teacher(images))
        return {"loss": -gap, "disagreement": gap}

    def student_images(self) -> torch.Tensor:
        """A fresh batch for a student step (no graph to G)."""
        return self.sample()

    def student_inputs(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every student step on a fresh batch (offered to replay), G fixed."""
        with torch.no_grad():
            images = self.student_images()
            teacher_logits = self.teacher(images)
        self.remember(images, teacher_logits)
        return self.student_batch(images, teacher_logits)

    def distill(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                targets: torch.Tensor) -> dict[str, torch.Tensor]:
        l1 = logit_l1(self.student(images), teacher_logits)
        return {"loss": l1, "l1": l1}

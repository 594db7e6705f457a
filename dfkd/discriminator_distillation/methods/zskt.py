"""ZSKT: Zero-shot Knowledge Transfer via Adversarial Belief Matching (Micaelli & Storkey,
NeurIPS 2019).

The generator seeks images where the student's beliefs differ most from the teacher's,
    L_G = −KL(p_T(x) ‖ p_S(x)),  x = G(z),
and the student matches the teacher's beliefs and spatial attention on them (eq. 2),
    L_S = KL(p_T ‖ p_S) + β·Σ_l AT_l,  β = 250,
AT over the outputs of each group of blocks (``dfkd.losses.attention_transfer``). Per
iteration one generator step, then n_S = 10 student steps on that step's batch. As in the
published code, the KL in both losses is averaged over classes as well as samples
(``F.kl_div``'s element-wise mean): β = 250 is calibrated to that scale, so the loss is
KL_batchmean / K + β·AT (the logged ``kl`` term is the usual per-sample KL).
"""
from __future__ import annotations

import torch

from dfkd.core.registry import METHODS
from dfkd.discriminator_distillation.methods.base import DataFreeMethod
from dfkd.losses import kd_kl


@METHODS.register("zskt")
class ZSKT(DataFreeMethod):
    """Adversarial belief matching plus attention transfer."""

    loss_defaults = {"at": 250.0, "temperature": 1.0}
    uses_attention = True

    def generator_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        images = self.sample()
        teacher_logits = self.teacher(images)
        kl = kd_kl(self.student(images), teacher_logits, self.weights["temperature"])
        self.keep_batch(iteration, images, teacher_logits)
        return {"loss": -kl / self.spec.num_classes, "kl": kl}

    def distill(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                targets: torch.Tensor) -> dict[str, torch.Tensor]:
        student_logits, teacher_logits, at = self.with_attention(images)
        kl = kd_kl(student_logits, teacher_logits, self.weights["temperature"])
        loss = kl / self.spec.num_classes + self.weights["at"] * at
        return {"loss": loss, "kl": kl, "at": at}

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

from dataclasses import dataclass

import torch

from dfkd.discriminator_distillation.methods.base import DataFreeMethod
from dfkd.discriminator_distillation.registry import METHODS
from dfkd.losses import kd_kl


@dataclass
class ZSKTOptions:
    """β of eq. 2 and the temperature of both KL terms (the paper's: 250, 1)."""

    at: float = 250.0  # β: weight of the attention-transfer term in the student's loss
    temperature: float = 1.0


@METHODS.register("zskt")
class ZSKT(DataFreeMethod):
    """Adversarial belief matching plus attention transfer."""

    Options = ZSKTOptions
    uses_attention = True

    def generator_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        images = self.sample()
        teacher_logits = self.teacher(images)
        kl = kd_kl(self.student(images), teacher_logits, self.options.temperature)
        self.keep_batch(iteration, images, teacher_logits)
        return {"loss": -kl / self.spec.num_classes, "kl": kl}

    def distill(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                targets: torch.Tensor) -> dict[str, torch.Tensor]:
        student_logits, teacher_logits, at = self.with_attention(images)
        kl = kd_kl(student_logits, teacher_logits, self.options.temperature)
        loss = kl / self.spec.num_classes + self.options.at * at
        return {"loss": loss, "kl": kl, "at": at}

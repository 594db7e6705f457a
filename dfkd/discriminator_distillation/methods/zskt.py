"""ZSKT: Zero-shot Knowledge Transfer via Adversarial Belief Matching (Micaelli & Storkey,
NeurIPS 2019).

The generator seeks images where the student's beliefs differ most from the teacher's,
    L_G = −KL(p_T(x) ‖ p_S(x)),  x = G(z),
and the student matches the teacher's beliefs and spatial attention on them (eq. 2),
    L_S = KL(p_T ‖ p_S) + β·Σ_l AT_l,  β = 250,
AT over the outputs of each group of blocks (``dfkd.losses.attention_transfer``). Per
iteration one z: one generator step on G(z), then n_S = 10 student steps on G(z) of the
same z drawn *after* that step (the official code's ``LearnableLoader`` regenerates the
batch from its fixed z at every call; the teacher labels it once), so the student learns
on the images the updated generator makes. (The code regenerates at each of the n_S
steps; G does not change between them, so one regeneration gives the same images, only
G's BatchNorm running statistics, unused in training mode, are updated once instead of
n_S times.) As in the
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

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._z: tuple[int, torch.Tensor] | None = None  # (iteration, this iteration's z)

    def generator_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        z = torch.randn(self.batch_size, self.nz, device=self.device)
        self._z = (iteration, z)
        images = self.sample(z=z)
        kl = kd_kl(self.student(images), self.teacher(images), self.options.temperature)
        return {"loss": -kl / self.spec.num_classes, "kl": kl}

    def generated_batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor, None]:
        """G(z) of this iteration's z, drawn once after the generator's step, labelled by
        the teacher; a fresh z where the generator took no step (generator.steps = 0)."""
        if self._batch is None or self._batch[0] != iteration:
            z = (self._z[1] if self._z is not None and self._z[0] == iteration
                 else torch.randn(self.batch_size, self.nz, device=self.device))
            with torch.no_grad():
                images = self.sample(z=z)
                self.keep_batch(iteration, images, self.teacher(images))
        return self._batch[1:]

    def distill(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                targets: torch.Tensor) -> dict[str, torch.Tensor]:
        student_logits, teacher_logits, at = self.with_attention(images)
        kl = kd_kl(student_logits, teacher_logits, self.options.temperature)
        loss = kl / self.spec.num_classes + self.options.at * at
        return {"loss": loss, "kl": kl, "at": at}

"""DAFL: Data-Free Learning of Student Networks (Chen et al., ICCV 2019).

G is trained against the teacher alone (eq. 6):
    L_G = α_oh·L_oh + α_ie·L_ie + α_a·L_a
and the student learns from the teacher on the same batch (eq. 8), KL with τ = 1.
"""
from __future__ import annotations

import torch

from dfkd.core.registry import METHODS
from dfkd.discriminator_distillation.methods.base import DataFreeMethod
from dfkd.losses import activation_loss, class_balance_loss, kd_kl, onehot_loss
from dfkd.nets import classifier_name
from dfkd.nets.hooks import FeatureRecorder


@METHODS.register("dafl")
class DAFL(DataFreeMethod):
    """Generator priors from the teacher; every student step reuses the generator's batch."""

    loss_defaults = {"onehot": 1.0, "balance": 5.0, "activation": 0.1, "temperature": 1.0}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._features = FeatureRecorder(self.teacher, {"penultimate": classifier_name(self.teacher)},
                                         inputs=True)

    def generator_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        images = self.sample()
        with self._features as rec:
            logits = self.teacher(images)
        terms = {
            "onehot": onehot_loss(logits),
            "balance": class_balance_loss(logits),
            "activation": activation_loss(rec["penultimate"]),
        }
        self.keep_batch(iteration, images, logits)
        terms["loss"] = sum(self.weights[k] * v for k, v in terms.items())
        return terms

    def distill(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                targets: torch.Tensor) -> dict[str, torch.Tensor]:
        kd = kd_kl(self.student(images), teacher_logits, self.weights["temperature"])
        return {"loss": kd, "kd": kd}

"""DAFL: Data-Free Learning of Student Networks (Chen et al., ICCV 2019).

G is trained against the teacher alone (eq. 6):
    L_G = α_oh·L_oh + α_ie·L_ie + α_a·L_a
and the student learns from the teacher on the same batch (eq. 8), KL with τ = 1.

As DAFL's code computes them (huawei-noah, DAFL_train.py): L_a = −mean |f_T(x)| over the
features the teacher's classifier head reads (``features_T`` of its LeNet-5: the 120-d
output of conv3, the input of the first fully connected layer; of its ResNets: the pooled
features), here the input of the teacher's first ``nn.Linear``; L_ie with log₁₀
(``dfkd.losses.class_balance_loss``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from dfkd.discriminator_distillation.methods.base import DataFreeMethod
from dfkd.discriminator_distillation.registry import METHODS
from dfkd.losses import activation_loss, class_balance_loss, kd_kl, onehot_loss
from dfkd.nets import head_name
from dfkd.nets.hooks import FeatureRecorder


@dataclass
class DAFLOptions:
    """Eq. 6's weights (the paper's MNIST values) and the student's KD temperature (eq. 8)."""

    onehot: float = 1.0  # α_oh: one-hot loss L_oh, the teacher's CE to its own argmax
    balance: float = 5.0  # α_ie: information entropy loss L_ie, class balance of the batch
    activation: float = 0.1  # α_a: activation loss L_a, −mean |features| (the head's input)
    temperature: float = 1.0  # τ of the student's KL to the teacher


@METHODS.register("dafl")
class DAFL(DataFreeMethod):
    """Generator priors from the teacher; every student step reuses the generator's batch."""

    Options = DAFLOptions

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._features = FeatureRecorder(self.teacher, {"features": head_name(self.teacher)},
                                         inputs=True)

    def generator_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        images = self.sample()
        with self._features as rec:
            logits = self.teacher(images)
        terms = {
            "onehot": onehot_loss(logits),
            "balance": class_balance_loss(logits),
            "activation": activation_loss(rec["features"]),
        }
        self.keep_batch(iteration, images, logits)
        o = self.options
        terms["loss"] = (o.onehot * terms["onehot"] + o.balance * terms["balance"]
                         + o.activation * terms["activation"])
        return terms

    def distill(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                targets: torch.Tensor) -> dict[str, torch.Tensor]:
        kd = kd_kl(self.student(images), teacher_logits, self.options.temperature)
        return {"loss": kd, "kd": kd}

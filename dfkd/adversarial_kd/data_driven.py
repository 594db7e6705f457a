"""Classic knowledge distillation with the real training data (``tools/train_kd.py``).

The baseline that data-free results are measured against: the same teacher, student,
``student_loss:`` terms and loop as ``train_dfkd.py``, but the student's batches are
the training set's images with their true labels (CE and the label-based terms use them).
The loop runs without an adversary; an iteration is one student batch, an epoch one pass
over a random order of the training set, reshuffled from (seed, epoch) so a resumed run
sees exactly the batches it would have seen.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from dfkd.adversarial_kd.registry import METHODS
from dfkd.engine import StatelessMethod
from dfkd.engine.real_batches import RealBatches
from dfkd.knowledge import StudentLoss


@METHODS.register("kd")
class DataDrivenKD(StatelessMethod):
    """The student's side of the loop on real data: one batch per iteration."""

    def __init__(self, knowledge: StudentLoss, train: TensorDataset, batch_size: int, seed: int,
                 device: torch.device, augment: nn.Module | None = None) -> None:
        self.knowledge = knowledge
        self.batch = RealBatches(train, batch_size, seed, device, augment)
        self.steps_per_epoch = self.batch.steps_per_epoch

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        return self.knowledge(*self.batch(iteration))

    def critic_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """The adversarial terms' discriminators on the iteration's batch."""
        return self.knowledge.critic_loss(*self.batch(iteration))

    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        raise RuntimeError("data-driven KD has no adversary")

    def log_media(self, logger, iteration: int) -> None:
        pass



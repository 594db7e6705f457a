"""What a real-data distillation run gives every method beside its networks, options and
training set."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from dfkd.knowledge import StudentLoss


@dataclass
class RealDataSetup:
    """Batches are a function of (seed, iteration), ``batch_size`` images each, on ``device``.

    ``augment``: the random views of the config's ``augment:`` section (data-driven KD);
    ``knowledge``: the ``student_loss:`` block built over the teacher and student (the
    student's loss in data-driven KD, as in a data-free run's ``DataFreeSetup``). AFD, whose
    loss is its own, takes neither.
    """

    batch_size: int
    seed: int
    device: torch.device
    augment: nn.Module | None = None
    knowledge: StudentLoss | None = None

    def refuse_own_loss_extras(self, method: str) -> None:
        """For a method whose loss is its own (AFD, KDGAN): a setup with ``augment`` or
        ``knowledge`` is a ValueError naming the method."""
        if self.augment is not None or self.knowledge is not None:
            raise ValueError(f"{method}'s loss is its own: its setup takes no augment and no "
                             "knowledge (student_loss block)")

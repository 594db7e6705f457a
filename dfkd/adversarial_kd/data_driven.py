"""Classic knowledge distillation with the real training data (``tools/train_kd.py``).

The baseline that data-free results are measured against: the same teacher, student,
``student_loss:`` terms and loop as ``train_dfkd.py``, but the student's batches are
the training set's images with their true labels (CE and the label-based terms use them).
The loop runs without an adversary; an iteration is one student batch, an epoch one pass
over a random order of the training set, reshuffled from (seed, epoch) so a resumed run
sees exactly the batches it would have seen.

The family's constructor, ``Method(teacher, student, adversary, options, data, setup)``:
the teacher and the student; as adversary the discriminators of the ``student_loss``
block's adversarial terms (``adversarial``, ``anc``: the loop's critic player), or None
without such terms; ``options`` :class:`KDOptions`; ``data`` the training set (a
``TensorDataset`` of images and labels); ``setup`` a :class:`RealDataSetup` whose
``knowledge`` is the ``student_loss:`` block built over the teacher and student (required)
and ``augment`` the random views. The loss lives in the setup, not in the options, because
it is the block a data-free student reads too (``DataFreeSetup.knowledge``): the config
keeps ``student_loss:`` and ``knowledge:`` as the top-level sections both families share
(and ``--loss`` replaces), so the method has no options of its own.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from dfkd.adversarial_kd.registry import METHODS
from dfkd.adversarial_kd.setup import RealDataSetup
from dfkd.engine import StatelessMethod
from dfkd.engine.real_batches import RealBatches


@dataclass(frozen=True)
class KDOptions:
    """Data-driven KD (Hinton et al. 2015, "Distilling the Knowledge in a Neural Network",
    with any knowledge terms) has no options of its own: its loss is the run's
    ``student_loss:`` block with the ``knowledge:`` section (see the module docstring)."""


@METHODS.register("kd")
class DataDrivenKD(StatelessMethod):
    """The student's side of the loop on real data: one batch per iteration."""

    Options = KDOptions

    def __init__(self, teacher: nn.Module, student: nn.Module, adversary: nn.ModuleDict | None,
                 options: KDOptions, data: TensorDataset, setup: RealDataSetup) -> None:
        knowledge = setup.knowledge
        if knowledge is None:
            raise ValueError("data-driven KD learns from setup.knowledge, the student_loss "
                             "block built over the teacher and student; none given")
        if (adversary is None) != (len(knowledge.critics()) == 0):
            raise ValueError("data-driven KD's adversary is its student_loss block's critics "
                             "(knowledge.critics()), or None where the block has none")
        self.options = options
        self.teacher, self.student, self.critics = teacher, student, adversary
        self.knowledge = knowledge
        self.batch = RealBatches(data, setup.batch_size, setup.seed, setup.device, setup.augment)
        self.steps_per_epoch = self.batch.steps_per_epoch

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        return self.knowledge(*self.batch(iteration))

    def critic_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """The adversarial terms' discriminators on the iteration's batch."""
        return self.knowledge.critic_loss(*self.batch(iteration))

    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        raise RuntimeError("data-driven KD has no adversary player: its discriminators are "
                           "the loop's critic (critic_loss)")

    def log_media(self, logger, iteration: int) -> None:
        pass

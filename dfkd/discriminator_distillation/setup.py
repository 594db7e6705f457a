"""What a data-free run gives every method beside its networks, options and dataset spec."""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from dfkd.discriminator_distillation.replay import ReplayBuffer
from dfkd.knowledge import StudentLoss


@dataclass
class NoOptions:
    """The options of a method that has none of its own."""


@dataclass
class DataFreeSetup:
    """What a data-free run gives every method beside its own options, built from the
    config's ``generator``, ``replay``, ``augment`` and ``student_loss`` sections.

    ``generator_ema``: the loop's EMA copy of G where ``generator.ema`` > 0 (MAD);
    ``knowledge``: the ``student_loss:`` block, which replaces the method's own student loss.
    """

    nz: int
    batch_size: int
    replay: ReplayBuffer | None = None
    replay_ratio: float = 0.5
    augment: nn.Module | None = None
    bn_weight: float = 0.0
    diversity: float = 0.0
    generator_ema: nn.Module | None = None
    knowledge: StudentLoss | None = None

"""Batches of a real training set as a pure function of (seed, iteration), so a resumed run
sees exactly the batches a straight run would; under ``torchrun`` each process takes its
slice of the same global batch."""
from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from dfkd.core.errors import ConfigError
from dfkd.data.epoch_order import EpochOrder
from dfkd.engine import distributed


class RealBatches:
    """Iteration ``i``'s (images, labels) of ``train``: an epoch is one pass over a random
    order of the set, drawn afresh from (seed, epoch); ``augment`` makes a random view."""

    def __init__(self, train: TensorDataset, batch_size: int, seed: int, device: torch.device,
                 augment: nn.Module | None = None) -> None:
        self.images, self.labels = train.tensors
        if len(self.images) < batch_size:
            raise ConfigError(f"train.batch_size {batch_size} exceeds the {len(self.images)} "
                              "training images")
        self.order = EpochOrder(len(self.images), batch_size, seed)
        self.steps_per_epoch = self.order.steps_per_epoch
        share = distributed.local_batch(batch_size)
        self.shard = slice(distributed.rank() * share, (distributed.rank() + 1) * share)
        self.device = device
        self.augment = augment

    def __call__(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = self.order.indices(iteration)[self.shard]
        images = self.images[index].to(self.device)
        if self.augment is not None:
            with torch.no_grad():
                images = self.augment(images)
        return images, self.labels[index].to(self.device)

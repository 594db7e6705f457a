"""Batches of a dataset as a pure function of (seed, iteration), for exact resume."""
from __future__ import annotations

import torch


class EpochOrder:
    """Iteration ``i`` takes batch ``i mod steps`` of a random order of the ``n`` items that
    is drawn afresh for each epoch from (seed, epoch); the last partial batch is dropped."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.steps_per_epoch = n // batch_size
        self._order: tuple[int, torch.Tensor] | None = None

    def indices(self, iteration: int) -> torch.Tensor:
        epoch, step = divmod(iteration, self.steps_per_epoch)
        if self._order is None or self._order[0] != epoch:
            rng = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._order = (epoch, torch.randperm(self.n, generator=rng))
        return self._order[1][step * self.batch_size:(step + 1) * self.batch_size]

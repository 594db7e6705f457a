"""BatchNorm-statistics prior (DFQ, Nagel et al. 2019; DeepInversion, Yin et al. 2020).

Synthetic images should produce, at the input of every teacher BatchNorm layer, the batch
statistics that layer stored from real data:
    L_bn = Σ_l ‖μ_l(x) − μ_l^BN‖₂ + ‖σ²_l(x) − σ²_l^BN‖₂
``bn_statistics_loss`` is the pure per-layer term; ``BNStatisticsPrior`` records the
teacher's BN inputs with hooks while the generator's loss is computed.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError


def batch_statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and biased variance of a BN input (N, C, ...), over all but C."""
    dims = [0] + list(range(2, features.dim()))
    return features.mean(dim=dims), features.var(dim=dims, unbiased=False)


def bn_statistics_loss(features: torch.Tensor, running_mean: torch.Tensor,
                       running_var: torch.Tensor,
                       past: tuple[torch.Tensor, torch.Tensor] | None = None,
                       momentum: float = 0.0) -> torch.Tensor:
    """‖μ(x) − μ_BN‖₂ + ‖σ²(x) − σ²_BN‖₂ for one BN input (N, C, ...): per-channel batch
    mean and (biased) variance over all but the channel dimension.

    With ``past`` (a running average of earlier batches' statistics) the batch's are
    blended first, μ ← (1 − m)·μ(x) + m·μ_past (and σ² alike), m = ``momentum``: Fast-DFKD's
    momentum BN loss (Fang et al. 2022), which asks the synthetic data *over rounds*, not
    each batch alone, to match the stored statistics."""
    mean, var = batch_statistics(features)
    if past is not None:
        mean = (1 - momentum) * mean + momentum * past[0]
        var = (1 - momentum) * var + momentum * past[1]
    return torch.linalg.vector_norm(mean - running_mean) + \
        torch.linalg.vector_norm(var - running_var)


class BNStatisticsPrior:
    """Hooks on every BatchNorm of ``teacher``; ``with prior:`` records, ``loss()`` sums.

    Each teacher forward inside the ``with`` block adds Σ_l of its layers' terms; ``loss``
    averages over the forwards, so calling the teacher twice does not double the prior.
    With ``momentum`` m > 0, each layer's term blends in a running average of the
    statistics of earlier batches (:func:`bn_statistics_loss`); ``update_momentum()``
    folds the last recorded batch into that average (once per synthesis round), and
    ``state_dict``/``load_state_dict`` carry it across ``--resume``.
    """

    def __init__(self, teacher: nn.Module, momentum: float = 0.0) -> None:
        self.layers = [m for m in teacher.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not self.layers:
            raise ConfigError(f"generator.bn_weight needs a teacher with BatchNorm layers; "
                              f"{type(teacher).__name__} has none. Set generator.bn_weight=0")
        self._first = self.layers[0]
        self._handles: list = []
        self._terms: list[torch.Tensor] = []
        self._forwards = 0
        self.momentum = momentum
        self.past: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(self.layers)
        self._last: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(self.layers)
        self._index = {id(m): i for i, m in enumerate(self.layers)}

    def _hook(self, module: nn.Module, args: tuple) -> None:
        if module is self._first:
            self._forwards += 1
        i = self._index[id(module)]
        if self.momentum:
            self._last[i] = tuple(s.detach() for s in batch_statistics(args[0]))
        self._terms.append(bn_statistics_loss(args[0], module.running_mean, module.running_var,
                                              self.past[i], self.momentum))

    def __enter__(self) -> "BNStatisticsPrior":
        self._terms, self._forwards = [], 0
        self._handles = [m.register_forward_pre_hook(self._hook) for m in self.layers]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def loss(self) -> torch.Tensor:
        """The recorded prior, averaged over the teacher forwards of the ``with`` block."""
        if not self._terms:
            raise RuntimeError("BNStatisticsPrior.loss() before any teacher forward was recorded")
        return torch.stack(self._terms).sum() / max(self._forwards, 1)

    def update_momentum(self) -> None:
        """past ← m·past + (1 − m)·last recorded batch statistics (the last batch itself the
        first time)."""
        m = self.momentum
        for i, last in enumerate(self._last):
            if last is None:
                continue
            past = self.past[i]
            self.past[i] = last if past is None else tuple(
                m * p + (1 - m) * b for p, b in zip(past, last))

    def state_dict(self) -> dict:
        return {"past": [None if p is None else [t.clone() for t in p] for p in self.past]}

    def load_state_dict(self, state: dict) -> None:
        self.past = [None if p is None else tuple(t.to(layer.running_mean.device) for t in p)
                     for p, layer in zip(state["past"], self.layers)]

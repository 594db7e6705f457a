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


def bn_statistics_loss(features: torch.Tensor, running_mean: torch.Tensor,
                       running_var: torch.Tensor) -> torch.Tensor:
    """‖μ(x) − μ_BN‖₂ + ‖σ²(x) − σ²_BN‖₂ for one BN input (N, C, ...): per-channel batch
    mean and (biased) variance over all but the channel dimension."""
    dims = [0] + list(range(2, features.dim()))
    mean = features.mean(dim=dims)
    var = features.var(dim=dims, unbiased=False)
    return torch.linalg.vector_norm(mean - running_mean) + \
        torch.linalg.vector_norm(var - running_var)


class BNStatisticsPrior:
    """Hooks on every BatchNorm of ``teacher``; ``with prior:`` records, ``loss()`` sums.

    Each teacher forward inside the ``with`` block adds Σ_l of its layers' terms; ``loss``
    averages over the forwards, so calling the teacher twice does not double the prior.
    """

    def __init__(self, teacher: nn.Module) -> None:
        self.layers = [m for m in teacher.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not self.layers:
            raise ConfigError(f"generator.bn_weight needs a teacher with BatchNorm layers; "
                              f"{type(teacher).__name__} has none. Set generator.bn_weight=0")
        self._first = self.layers[0]
        self._handles: list = []
        self._terms: list[torch.Tensor] = []
        self._forwards = 0

    def _hook(self, module: nn.Module, args: tuple) -> None:
        if module is self._first:
            self._forwards += 1
        self._terms.append(bn_statistics_loss(args[0], module.running_mean, module.running_var))

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

"""A player of the adversarial loop: a model with its optimizer, schedule and EMA copy.

Every family of the taxonomy has two players (DESIGN.md): generator vs student classifier
(data-free), discriminator vs student generator (GAN compression), and so on. A player
may own auxiliary modules (regressors, projections) whose parameters train with it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from dfkd.core.errors import ConfigError
from dfkd.engine.config import OptimConfig, PlayerConfig, ScheduleConfig


def build_optimizer(params, cfg: OptimConfig) -> torch.optim.Optimizer:
    """Adam or SGD (with momentum and weight decay) from an :class:`OptimConfig`."""
    params = list(params)
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas),
                                weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                               weight_decay=cfg.weight_decay)
    raise ConfigError(f"unknown optimizer {cfg.name!r}; use 'adam' or 'sgd'")


def lr_factor(cfg: ScheduleConfig, iteration: int, total_iters: int) -> float:
    """The learning-rate multiplier at ``iteration`` (a pure function of the iteration)."""
    if cfg.name == "constant":
        return 1.0
    if cfg.name == "step":
        return cfg.gamma ** sum(iteration >= m for m in cfg.milestones)
    if cfg.name == "cosine":
        horizon = cfg.horizon or total_iters
        progress = min(iteration / max(horizon, 1), 1.0)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    if cfg.name == "linear":
        start = cfg.horizon or total_iters // 2
        progress = min(max(iteration - start, 0) / max(total_iters - start, 1), 1.0)
        return 1.0 - (1 - cfg.min_lr_ratio) * progress
    raise ConfigError(f"unknown schedule {cfg.name!r}; use 'constant', 'step', 'cosine' or "
                      "'linear'")


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: ScheduleConfig,
                    total_iters: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-iteration scheduler following :func:`lr_factor`."""
    lr_factor(cfg, 0, total_iters)  # validates the name now, not mid-run
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda it: lr_factor(cfg, it, total_iters))


def build_ema(model: nn.Module, momentum: float) -> AveragedModel | None:
    """An exponential moving average of ``model``'s weights and buffers (θ_ema ← m·θ_ema +
    (1 − m)·θ after each step), or None for momentum 0."""
    if not momentum:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(momentum), use_buffers=True)


@dataclass
class Player:
    """A trainable model, its optimizer and schedule, and how it steps."""

    name: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
    steps: int = 1
    clip_grad: float = 0.0
    ema: AveragedModel | None = None
    aux: nn.ModuleDict = field(default_factory=nn.ModuleDict)

    @classmethod
    def from_config(cls, name: str, model: nn.Module, cfg: PlayerConfig, total_iters: int,
                    aux: nn.ModuleDict | None = None,
                    ema: AveragedModel | None = None) -> "Player":
        """The player ``cfg`` describes; ``aux`` modules train with it; ``ema``: its EMA copy
        when a method needed it before the player was built (else made here from cfg.ema)."""
        aux = aux if aux is not None else nn.ModuleDict()
        optimizer = build_optimizer(list(model.parameters()) + list(aux.parameters()), cfg.optim)
        if ema is None:
            ema = build_ema(model, cfg.ema)
        return cls(name, model, optimizer, build_scheduler(optimizer, cfg.schedule, total_iters),
                   cfg.steps, cfg.clip_grad, ema, aux)

    def parameters(self):
        yield from self.model.parameters()
        yield from self.aux.parameters()

    def named_parameters(self):
        yield from self.model.named_parameters()
        yield from (("aux." + n, p) for n, p in self.aux.named_parameters())

    def set_trainable(self, flag: bool) -> None:
        """Freeze or unfreeze this player's parameters (gradients only, not BN mode)."""
        for p in self.parameters():
            p.requires_grad_(flag)

    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "aux": self.aux.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "ema": self.ema.state_dict() if self.ema else None,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.aux.load_state_dict(state["aux"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler and state["scheduler"]:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.ema and state["ema"]:
            self.ema.load_state_dict(state["ema"])

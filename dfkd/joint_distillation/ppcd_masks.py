"""PPCD-GAN's progressive pruning of the PP-Res mask layers (Vo et al., WACV 2022).

The paper's abstract: the mask layers "progressively prune network parameters as training
proceeds", pruning and distillation are trained together end to end. Its schedule and
criterion could not be read; this is a RECONSTRUCTION from the standard tools of the kind:

* the target sparsity s(t) of every mask layer rises from 0 at ``start`` to ``final`` at
  ``end`` along the cubic schedule of Zhu & Gupta 2017 (arXiv 1710.01878, eq. 1 with
  s_i = 0): s(t) = s_f · (1 − (1 − (t − t₀)/(t₁ − t₀))³), fast early, gently late;
* every ``every`` iterations inside [start, end] (and at ``end``), each mask layer switches
  off, for good, the channels with the smallest |m| among those it still keeps until
  ⌊s(t)·C⌋ are off (never fewer than ``min_channels`` kept; ties go to the lower index);
* a sparsity penalty λ·mean |m| over the kept channels (the L1 of network slimming, Liu et
  al. 2017) drives the masks of unneeded channels down before they are cut.

All three are pure functions of the iteration and of the masks' state (which the student's
checkpoint holds), so ``--resume`` continues the schedule exactly.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from generators.ppcd_generator import ChannelMask


def cubic_sparsity(iteration: int, final: float, start: int, end: int) -> float:
    """s(t) of the cubic schedule: 0 before ``start``, ``final`` from ``end`` on."""
    if iteration < start:
        return 0.0
    if iteration >= end:
        return final
    progress = (iteration - start) / (end - start)
    return final * (1.0 - (1.0 - progress) ** 3)


def is_prune_step(iteration: int, start: int, end: int, every: int) -> bool:
    """Whether masks are pruned at ``iteration``: every ``every`` iterations from ``start``
    on, and at ``end``, never after it."""
    return start <= iteration <= end and ((iteration - start) % every == 0 or iteration == end)


@torch.no_grad()
def prune_masks(masks: Sequence[ChannelMask], sparsity: float, min_channels: int = 1) -> int:
    """Switch off, in each mask layer, the kept channels of smallest |m| until
    ⌊sparsity·C⌋ are off (at most C − min_channels); returns how many were switched off."""
    newly = 0
    for mask in masks:
        channels = mask.keep.numel()
        extra = pruned_count(channels, sparsity, min_channels) - (channels - mask.kept)
        if extra <= 0:
            continue
        score = mask.weight.detach().abs().masked_fill(mask.keep == 0, math.inf)
        order = torch.sort(score, stable=True).indices  # ties: the lower index first
        mask.keep[order[:extra]] = 0.0
        newly += extra
    return newly


def mask_penalty(masks: Sequence[ChannelMask]) -> torch.Tensor:
    """mean |m| over the kept channels of all mask layers (0 when none is kept)."""
    total = sum((m.weight.abs() * m.keep).sum() for m in masks)
    kept = sum(m.kept for m in masks)
    return total / max(kept, 1)


def pruned_count(channels: int, sparsity: float, min_channels: int = 1) -> int:
    """Channels a layer of ``channels`` has switched off at ``sparsity``."""
    return max(0, min(math.floor(sparsity * channels + 1e-9), channels - min_channels))


def final_sparsity(masks: Sequence[ChannelMask], sparsity: float, min_channels: int = 1) -> float:
    """The fraction of all masked channels off once the schedule has reached ``sparsity``."""
    channels = [m.keep.numel() for m in masks]
    return sum(pruned_count(c, sparsity, min_channels) for c in channels) / max(sum(channels), 1)


def sparsity_of(masks: Sequence[ChannelMask]) -> float:
    """The fraction of all masked channels that are switched off."""
    channels = sum(m.keep.numel() for m in masks)
    return 1.0 - sum(m.kept for m in masks) / max(channels, 1)


__all__ = ["cubic_sparsity", "final_sparsity", "is_prune_step", "mask_penalty", "prune_masks",
           "pruned_count", "sparsity_of"]

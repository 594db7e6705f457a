"""Knowledge-form terms of the ``student_loss:`` block, by name.

Each term wraps a pure loss of ``dfkd.losses`` and owns that loss's learnable parts, if
any. A term is built from the shapes the teacher and student showed on a probe batch
(:class:`Probe`) and evaluated on the recorded tensors of one batch (:class:`Views`).
Which recorded layers a term reads follows its paper: FitNet the middle pair (the hint),
SP and FT the last pair, DDKD the last pair, the others every pair; PKT, RKD and CRD the
penultimate embeddings.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.core.registry import Registry
from dfkd.knowledge.config import KnowledgeConfig

KNOWLEDGE = Registry("student loss term")


@dataclass
class Probe:
    """Shapes seen on a probe batch: paired maps, embeddings, and names of the pairs."""

    teacher_maps: list[torch.Size]
    student_maps: list[torch.Size]
    teacher_dim: int
    student_dim: int
    pair_names: list[str]
    teacher_classes: int = 0
    student_classes: int = 0


@dataclass
class Views:
    """What one batch gave: logits, class targets, paired maps, penultimate embeddings.
    Teacher tensors carry no graph."""

    student_logits: torch.Tensor
    teacher_logits: torch.Tensor | None  # None when no term needs the teacher
    targets: torch.Tensor | None = None
    student_maps: list[torch.Tensor] | None = None
    teacher_maps: list[torch.Tensor] | None = None
    student_embedding: torch.Tensor | None = None
    teacher_embedding: torch.Tensor | None = None


class Term(nn.Module):
    """A knowledge term; subclasses say what they read and compute ``forward(views)``."""

    needs_maps = False
    needs_embedding = False
    needs_targets = False
    needs_teacher = True
    needs_critic = False  # has a discriminator, trained by the loop's critic player

    def __init__(self, probe: Probe, cfg: KnowledgeConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def forward(self, v: Views) -> torch.Tensor | dict[str, torch.Tensor]:
        """The term's value; or a dict of its ``"loss"`` (multiplied by the term's weight),
        an optional ``"own"`` loss that trains only the term's own parts (an autoencoder's
        reconstruction: added with weight 1, as its paper does), and parts to log."""
        raise NotImplementedError


def term(name: str):
    """Register a :class:`Term` subclass under ``name``."""
    def decorator(cls: type[Term]) -> type[Term]:
        KNOWLEDGE.add(name, cls)
        cls.term_name = name
        return cls
    return decorator


def _same_resolution(probe: Probe, name: str, indices: list[int]) -> None:
    for i in indices:
        s, t = probe.student_maps[i], probe.teacher_maps[i]
        if len(s) != 4 or len(t) != 4 or s[2:] != t[2:]:
            raise ConfigError(
                f"{name} compares maps of equal resolution, but pair {probe.pair_names[i]} has "
                f"student {tuple(s[1:])} and teacher {tuple(t[1:])}: choose other layers with "
                "knowledge.teacher_layers / knowledge.student_layers")


# -- logits ------------------------------------------------------------------------------


# -- features ------------------------------------------------------------------------------


# -- relations -----------------------------------------------------------------------------



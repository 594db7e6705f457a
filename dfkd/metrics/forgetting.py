"""Forgetting: how well the student still matches the teacher on early synthetic samples.

A data-free student only sees what the generator currently produces; when the generator
drifts, the student may forget what earlier distributions taught it (MAD, Do et al. 2022).
``SyntheticBank`` keeps a fixed set of synthetic images captured early in the run, with
the teacher's labels; the student's agreement with those labels over time measures
forgetting. The bank is part of the method's checkpoint state, so resume keeps it.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from dfkd.core.modes import eval_mode


class SyntheticBank:
    """Fixed synthetic images and the teacher's predicted classes for them."""

    def __init__(self) -> None:
        self.images: torch.Tensor | None = None
        self.labels: torch.Tensor | None = None
        self.iteration: int | None = None  # when the bank was captured

    @property
    def filled(self) -> bool:
        return self.images is not None

    def capture(self, images: torch.Tensor, teacher_logits: torch.Tensor, iteration: int) -> None:
        self.images = images.detach().clone()
        self.labels = teacher_logits.detach().argmax(dim=1)
        self.iteration = iteration

    @torch.no_grad()
    def agreement(self, student: nn.Module, batch_size: int = 1024) -> float:
        """Percent of bank images on which the student predicts the teacher's class."""
        if self.images is None:
            raise RuntimeError("the synthetic bank has not been captured yet")
        with eval_mode(student):
            hits = sum(int((student(x).argmax(dim=1) == y).sum()) for x, y in
                       zip(self.images.split(batch_size), self.labels.split(batch_size)))
        return 100.0 * hits / len(self.labels)

    def state_dict(self) -> dict:
        return {"images": self.images, "labels": self.labels, "iteration": self.iteration}

    def load_state_dict(self, state: dict) -> None:
        self.images, self.labels = state["images"], state["labels"]
        self.iteration = state["iteration"]

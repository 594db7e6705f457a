"""Shared parts of the data-free (discriminator distillation) methods.

A generator G synthesizes a batch, the frozen teacher T judges it, the student S learns
from T on it. Subclasses define ``adversary_loss`` (G's step) and ``student_loss``
(S's step); everything else — latent sampling, loss-weight checking, the TensorBoard
grid of samples sorted by the teacher's class — lives here.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn

from dfkd.data.specs import DatasetSpec
from dfkd.engine.logger import RunLogger
from dfkd.errors import ConfigError
from dfkd.replay import ReplayBuffer

IMAGE_BANK = 256  # latent vectors kept fixed for the logged sample grids
PER_CLASS = 8  # samples per class row in the grid


def classifier_name(model: nn.Module) -> str:
    """Dotted name of the last ``nn.Linear`` (its input is the penultimate feature)."""
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ConfigError(f"{type(model).__name__} has no nn.Linear classifier layer")
    return names[-1]


class DataFreeMethod:
    """Base class: holds the three networks and the generator's latent sampling."""

    #: loss weights and their published defaults; config ``loss:`` may override these keys
    loss_defaults: dict[str, float] = {}

    def __init__(self, teacher: nn.Module, student: nn.Module, generator: nn.Module, *,
                 nz: int, batch_size: int, spec: DatasetSpec,
                 loss: dict[str, float] | None = None, replay: ReplayBuffer | None = None,
                 replay_ratio: float = 0.5, augment: nn.Module | None = None) -> None:
        unknown = sorted(set(loss or {}) - set(self.loss_defaults))
        if unknown:
            raise ConfigError(f"unknown loss weight {unknown[0]!r} for {type(self).__name__}; "
                              f"known: {', '.join(self.loss_defaults) or 'none'}")
        self.weights = {**self.loss_defaults, **(loss or {})}
        self.teacher = teacher.eval().requires_grad_(False)
        self.student = student
        self.generator = generator
        self.nz = nz
        self.batch_size = batch_size
        self.spec = spec
        self.device = next(generator.parameters()).device
        if not 0.0 <= replay_ratio <= 1.0:
            raise ConfigError(f"replay.ratio must lie in [0, 1], got {replay_ratio}")
        self.replay = replay
        self.replay_ratio = replay_ratio
        self.augment = augment
        bank_rng = torch.Generator().manual_seed(20190000)
        self._image_z = torch.randn(IMAGE_BANK, nz, generator=bank_rng).to(self.device)

    def sample(self, generator: nn.Module | None = None) -> torch.Tensor:
        """A batch ``G(z)``, z ~ N(0, I), keeping the graph to G's parameters."""
        z = torch.randn(self.batch_size, self.nz, device=self.device)
        return (generator or self.generator)(z)

    def remember(self, images: torch.Tensor, teacher_logits: torch.Tensor) -> None:
        """Offer a freshly synthesized batch to the replay buffer (if there is one)."""
        if self.replay is not None:
            self.replay.add(images.detach(), teacher_logits.detach())

    def mix_replay(self, images: torch.Tensor,
                   teacher_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Replace ``replay_ratio`` of a student batch with stored samples."""
        if self.replay is None or len(self.replay) == 0 or self.replay_ratio == 0:
            return images, teacher_logits
        n_old = round(len(images) * self.replay_ratio)
        old_images, old_logits = self.replay.sample(n_old)
        n_new = len(images) - n_old
        return (torch.cat([images[:n_new], old_images]),
                torch.cat([teacher_logits[:n_new], old_logits]))

    def student_batch(self, images: torch.Tensor,
                      teacher_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What the student learns from: replay mixed in, then (with ``augment``) random
        views of the images, which the teacher labels afresh."""
        images, teacher_logits = self.mix_replay(images, teacher_logits)
        if self.augment is None:
            return images, teacher_logits
        with torch.no_grad():
            views = self.augment(images)
            return views, self.teacher(views)

    def state_dict(self) -> dict:
        return {"replay": self.replay.state_dict() if self.replay is not None else None}

    def load_state_dict(self, state: dict) -> None:
        if self.replay is not None and state.get("replay") is not None:
            self.replay.load_state_dict(state["replay"])

    @torch.no_grad()
    def log_media(self, logger: RunLogger, iteration: int) -> None:
        """A grid with one row per teacher class, and the class histogram, to TensorBoard."""
        generator = copy.deepcopy(self.generator).train()  # same BN mode as in training
        images = generator(self._image_z)
        predicted = self.teacher(images).argmax(dim=1)
        rows, found = [], []
        blank = torch.zeros_like(images[:1])
        for k in range(self.spec.num_classes):
            members = images[predicted == k][:PER_CLASS]
            found.append(f"{self.spec.class_name(k)}: {int((predicted == k).sum())}")
            rows.append(torch.cat([members] + [blank] * (PER_CLASS - len(members))))
        logger.image_grid("samples/by_teacher_class", torch.cat(rows), iteration, nrow=PER_CLASS)
        logger.text("samples/rows", "rows, top to bottom (count of 256): " + ", ".join(found),
                    iteration)
        logger.histogram("samples/teacher_class", predicted.float(), iteration,
                         bins=self.spec.num_classes)

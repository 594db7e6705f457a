"""Synthesis rounds: the shape of the inversion family (DeepInversion, CMI, Fast-DFKD, NAYER).

These methods do not alternate one generator step with the student's. Each round they
*synthesize* a batch by an optimization of their own — over pixels, or a generator and its
latents — with a fresh optimizer per round, as their papers' code creates one in every
``synthesize()`` call; the batch joins a memory of synthesized samples, and the student
learns from batches drawn from that memory.

On the shared loop one iteration is one round:
- ``begin_iteration`` (called by the loop before the phases) runs :meth:`synthesize_round`
  once
  and stores its batch with the teacher's logits in the memory, which is the config's
  ``replay`` buffer (its ``capacity`` bounds it; its content is checkpointed);
- the generator player takes ``generator.steps`` steps of ``generator_loss``: 0 where all
  of the synthesis is inner (DeepInversion, CMI, NAYER), 1 for an outer step on persistent
  weights (Fast-DFKD's meta-generator);
- each of the student's ``student.steps`` steps draws a batch from the memory
  (``student_inputs``), with the config's random views relabelled by the teacher.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.discriminator_distillation.methods.base import DataFreeMethod
from dfkd.losses.bn_prior import BNStatisticsPrior


@contextlib.contextmanager
def trainable(*parts: nn.Module | torch.Tensor) -> Iterator[None]:
    """Gradients on for the parameters of ``parts`` (modules or tensors) inside the block,
    back to what they were after: the loop freezes every player but the one stepping."""
    tensors = [p for part in parts
               for p in (part.parameters() if isinstance(part, nn.Module) else [part])]
    saved = [p.requires_grad for p in tensors]
    for p in tensors:
        p.requires_grad_(True)
    try:
        yield
    finally:
        for p, flag in zip(tensors, saved):
            p.requires_grad_(flag)


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """No gradients into ``module``'s parameters inside the block (the student while a
    synthesis loss backpropagates through it to the images), back to what they were after."""
    params = list(module.parameters())
    saved = [p.requires_grad for p in params]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, saved):
            p.requires_grad_(flag)


def teacher_bn_prior(method: str, teacher: nn.Module, momentum: float = 0.0
                     ) -> BNStatisticsPrior:
    """The BN-statistics prior on ``teacher`` of a synthesis-round method, or one error line
    naming the fix when the teacher has no BatchNorm layer."""
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in teacher.modules()):
        raise ConfigError(f"{method} matches the teacher's BatchNorm statistics, but the teacher "
                          f"{type(teacher).__name__} has no BatchNorm layers: use a teacher with "
                          "BatchNorm (e.g. --teacher lenet5_bn) or set options.bn: 0")
    return BNStatisticsPrior(teacher, momentum=momentum)


class SynthesisMethod(DataFreeMethod):
    """Base of the methods that synthesize one batch per iteration with an optimization of
    their own and train the student on the memory of all synthesized batches.

    A subclass implements :meth:`synthesize_round` (one round: returns the batch, the teacher's
    logits on it, and figures to log) and :meth:`distill` (the student loss on a memory
    batch); where it has an outer step on persistent weights it implements
    ``generator_loss`` and sets ``generator.steps: 1`` in its config.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.bn_weight > 0:  # the generator prior of the other methods: a second BN term
            raise ConfigError(f"{type(self).__name__.lower()} weighs its BN-statistics term with "
                              "options.bn: set generator.bn_weight: 0")
        if self.replay is None:
            raise ConfigError(f"{type(self).__name__} trains the student on the memory of "
                              "synthesized samples: set replay.capacity (e.g. 20000)")
        self._synthesized_at: int | None = None

    def synthesize_round(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor,
                                                  dict[str, torch.Tensor]]:
        """One synthesis round: ``(images, teacher_logits, logged figures)``."""
        raise NotImplementedError

    def begin_iteration(self, iteration: int) -> dict[str, torch.Tensor]:
        """Synthesize this iteration's batch (once, even if called again) into the memory."""
        if self._synthesized_at == iteration:
            return {}
        images, teacher_logits, logged = self.synthesize_round(iteration)
        self.remember(images.detach(), teacher_logits.detach())
        self._synthesized_at = iteration
        return {f"synthesis/{k}": v.detach() for k, v in logged.items()}

    def generator_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        raise ConfigError(f"{type(self).__name__} synthesizes inside its rounds and has no "
                          "outer generator step: set generator.steps: 0")

    def student_inputs(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor,
                                                      torch.Tensor]:
        """A batch drawn from the memory (uniformly, with replacement), as random views
        relabelled by the teacher where the config asks for views."""
        images, teacher_logits = self.replay.sample(self.batch_size)
        targets = teacher_logits.argmax(dim=1)
        if self.augment is None:
            return images, teacher_logits, targets
        with torch.no_grad():
            views = self.augment(images)
            return views, self.teacher(views), targets

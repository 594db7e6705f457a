"""Adversarial knowledge terms: a discriminator tells the teacher's outputs from the
student's, and the student learns to make them indistinguishable.

- ``adversarial`` (Wang et al. 2018, "Adversarial learning of portable student networks",
  AAAI; seed 000 eq. 4): the discriminator judges *features*, the penultimate vectors z_t
  and z_s. Only the paper's abstract could be read here (it says D "distinguish[es]
  features extracted from student and teacher networks"); which layer, and how features of
  different widths meet, are reconstructed: the penultimate vector (the input of the last
  ``nn.Linear``, as METHODS.md guesses); equal widths are compared as they are, a narrower
  or wider student's z_s is first mapped to the teacher's width by a linear map that trains
  with the student (ANC's adapter, Belagiannis et al. 2018).
- ``adversarial_logits``: the same game on the logits (this term's name before issue 20;
  KDCAN without its label conditioning).
- ``anc`` (Belagiannis et al. 2018, adversarial network compression): penultimate
  embeddings, always through a linear adapter to the teacher's width.
- ``kdcan`` (Xu, Hsu, Huang 2018, arXiv 1709.00513): a discriminator on logits
  *conditioned on the class*: it reads [z, one-hot(y)] with y the batch's targets (the true
  labels with real data). Only the abstract could be read; conditioning by concatenation
  (Mirza & Osindero 2014, the survey's cGAN) is reconstructed. The paper's L1 on logits is
  the ``l1`` term: ``student_loss: {ce: ., l1: λ, kdcan: 1}``.

Each term's value is the student's non-saturating GAN loss L(D(z_s), real) (eq. 4's
ln(1 − D(z_s)), which saturates when D wins, replaced as Goodfellow et al. 2014 advise), so
eq. 4 reads ``student_loss: {ce: 1, kd: δ, adversarial: γ}``. The discriminator is not part
of the student: it is the loop's critic player, stepping on ½[L(D(z_t), real) + L(D(z_s),
fake)] (wgangp: D(z_s) − D(z_t) + 10·GP, ``dfkd.losses.gan.discriminator_loss``;
``StudentLoss.critic_loss``) before each student step, frozen while the student steps.
``knowledge.adversarial.gan_mode`` picks L (vanilla, lsgan, hinge, wgangp), and
``knowledge.adversarial.hidden`` the discriminator MLP's width; all four terms read them.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import ConfigError
from dfkd.knowledge.config import KnowledgeConfig
from dfkd.knowledge.terms import Probe, Term, Views, term
from dfkd.losses.gan import GAN_MODES, discriminator_loss, gan_loss
from dfkd.nets.discriminators import OutputDiscriminator


class _Adversarial(Term):
    """A term with a discriminator on ``teacher_side``/``student_side`` of the views."""

    needs_critic = True

    def __init__(self, probe: Probe, cfg: KnowledgeConfig, width: int) -> None:
        super().__init__(probe, cfg)
        mode = cfg.adversarial.gan_mode
        if mode not in GAN_MODES:
            raise ConfigError(f"knowledge.adversarial.gan_mode {mode!r}: "
                              f"use one of {', '.join(GAN_MODES)}")
        self.mode = mode
        # a tuple: the discriminator is the critic player's, not a submodule of the student's
        self._critic = (OutputDiscriminator(width, cfg.adversarial.hidden),)

    @property
    def critic(self) -> OutputDiscriminator:
        return self._critic[0]

    def teacher_side(self, v: Views) -> torch.Tensor:
        raise NotImplementedError

    def student_side(self, v: Views) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, v: Views) -> torch.Tensor:
        return gan_loss(self.critic(self.student_side(v)), True, self.mode,
                        for_discriminator=False)

    def critic_loss(self, v: Views) -> dict[str, torch.Tensor]:
        return discriminator_loss(self.critic, self.teacher_side(v).detach(),
                                  self.student_side(v).detach(), self.mode)


def _same_classes(probe: Probe, name: str) -> int:
    classes = probe.student_classes
    if probe.teacher_classes != classes:
        raise ConfigError(f"{name} compares logits, but the teacher has "
                          f"{probe.teacher_classes} classes and the student {classes}")
    return classes


@term("adversarial_logits")
class AdversarialLogits(_Adversarial):
    """The discriminator judges logits (teacher real, student fake); named ``adversarial``
    before issue 20, which gave that name to Wang et al.'s feature form."""

    def __init__(self, probe: Probe, cfg: KnowledgeConfig) -> None:
        super().__init__(probe, cfg, _same_classes(probe, "adversarial_logits"))

    def teacher_side(self, v: Views) -> torch.Tensor:
        return v.teacher_logits

    def student_side(self, v: Views) -> torch.Tensor:
        return v.student_logits


@term("adversarial")
class AdversarialFeatures(_Adversarial):
    """Wang et al. 2018: the discriminator judges the penultimate features z_t (real) and
    z_s (fake); z_s goes through a linear map to the teacher's width only where the widths
    differ (reconstructed, see the module docstring)."""

    needs_embedding = True

    def __init__(self, probe: Probe, cfg: KnowledgeConfig) -> None:
        super().__init__(probe, cfg, probe.teacher_dim)
        self.adapter = (nn.Identity() if probe.student_dim == probe.teacher_dim
                        else nn.Linear(probe.student_dim, probe.teacher_dim))

    def teacher_side(self, v: Views) -> torch.Tensor:
        return v.teacher_embedding

    def student_side(self, v: Views) -> torch.Tensor:
        return self.adapter(v.student_embedding)


@term("anc")
class AdversarialEmbedding(_Adversarial):
    """Belagiannis et al. 2018: the discriminator judges penultimate embeddings; a linear
    adapter lifts the student's to the teacher's width."""

    needs_embedding = True

    def __init__(self, probe: Probe, cfg: KnowledgeConfig) -> None:
        super().__init__(probe, cfg, probe.teacher_dim)
        self.adapter = nn.Linear(probe.student_dim, probe.teacher_dim)

    def teacher_side(self, v: Views) -> torch.Tensor:
        return v.teacher_embedding

    def student_side(self, v: Views) -> torch.Tensor:
        return self.adapter(v.student_embedding)


def conditioned(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """KDCAN's discriminator input [z, one-hot(y)]: (N, K) logits and (N,) classes → (N, 2K)."""
    return torch.cat([logits, F.one_hot(targets, logits.shape[1]).to(logits.dtype)], dim=1)


@term("kdcan")
class ConditionalAdversarialLogits(_Adversarial):
    """KDCAN (Xu, Hsu, Huang 2018): D(z, y) on logits conditioned on the class y, teacher
    logits real, student logits fake, both with the batch's targets (reconstructed
    conditioning, see the module docstring)."""

    needs_targets = True

    def __init__(self, probe: Probe, cfg: KnowledgeConfig) -> None:
        super().__init__(probe, cfg, 2 * _same_classes(probe, "kdcan"))

    def teacher_side(self, v: Views) -> torch.Tensor:
        return conditioned(v.teacher_logits, v.targets)

    def student_side(self, v: Views) -> torch.Tensor:
        return conditioned(v.student_logits, v.targets)

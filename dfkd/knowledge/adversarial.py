"""Adversarial knowledge terms: a discriminator tells the teacher's outputs from the
student's, and the student learns to make them indistinguishable.

``adversarial`` (Wang et al. 2018, seed 000 eq. 4) puts the discriminator on the logits,
``anc`` (Belagiannis et al. 2018, adversarial network compression) on the penultimate
embeddings; there the student's embedding is first mapped to the teacher's width by a
linear adapter that trains with the student. The term's value is the student's
non-saturating GAN loss L(D(z_s), real) (eq. 4's ln(1 − D(z_s)), which saturates when
D wins, replaced as Goodfellow et al. 2014 advise), so the eq. 4 objective reads
``student_loss: {ce: 1, kd: δ, adversarial: γ}``. The discriminator is not part of the
student: it is the loop's critic player, stepping on ½[L(D(z_t), real) + L(D(z_s), fake)]
(wgangp: D(z_s) − D(z_t) + 10·GP, ``dfkd.losses.gan.discriminator_loss``;
``StudentLoss.critic_loss``) before each student step, frozen while the student steps.
``knowledge.adversarial.gan_mode`` picks L (vanilla, lsgan, hinge, wgangp), and
``knowledge.adversarial.hidden`` the discriminator MLP's width; both terms read them.
"""
from __future__ import annotations

import torch
import torch.nn as nn

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


@term("adversarial")
class AdversarialLogits(_Adversarial):
    """Wang et al. 2018: the discriminator judges logits (teacher real, student fake)."""

    def __init__(self, probe: Probe, cfg: KnowledgeConfig) -> None:
        classes = probe.student_classes
        if probe.teacher_classes != classes:
            raise ConfigError(f"adversarial compares logits, but the teacher has "
                              f"{probe.teacher_classes} classes and the student {classes}")
        super().__init__(probe, cfg, classes)

    def teacher_side(self, v: Views) -> torch.Tensor:
        return v.teacher_logits

    def student_side(self, v: Views) -> torch.Tensor:
        return v.student_logits


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

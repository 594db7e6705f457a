"""Distilling a whole GAN (``tools/distill_gan.py``): teacher (G_T, D_T) →
student (G_S, D_S), on the shared adversarial loop.

``generic_joint``: the survey's generic joint G+D form (seed 000, its eq. 8; METHODS.md
section 4), as the survey summarizes Chen et al. 2020 ("Distilling portable GANs"), on an
unconditional DCGAN. Chen et al.'s own method, on image translation with its perceptual and
triplet losses, is the generator-distillation method ``portable_gan``. D_S is the
adversary, G_S the student, G_T and D_T frozen judges of what the students should do:

    L_D = L_GAN(D_S; x real, G_S(z) fake) + μ·(‖D_S(x) − D_T(x)‖₁ + ‖D_S(G_S(z)) − D_T(G_S(z))‖₁)
    L_G = λ_gan·L_GAN(G_S; D_S) + α·‖G_S(z) − G_T(z)‖₁

``aguinaldo`` (Aguinaldo et al. 2019): the student generator alone learns the teacher's
mapping from noise to pixels, L_G = α·‖G_S(z) − G_T(z)‖² for the same z (no
discriminator, no real data). The third baseline, a student GAN trained from scratch, is
``tools/train_gan.py --task dcgan`` at the student's widths. Real batches are a function
of (seed, iteration) and z comes from torch's generator (kept by the loop's checkpoints),
so ``--resume`` is exact.

Both methods read one options dataclass, :class:`JointOptions` (Aguinaldo uses only
``pixel_weight``): the family's config file serves both, switched with ``method``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import ConfigError
from dfkd.data.epoch_order import EpochOrder
from dfkd.engine.logger import RunLogger
from dfkd.engine.loop import StatelessMethod
from dfkd.gan.evaluation import GRID, generate, latent_bank
from dfkd.gan.setup import GANSetup
from dfkd.joint_distillation.registry import METHODS
from dfkd.losses.gan import check_gan_mode, discriminator_loss, gan_loss


@dataclass
class JointOptions:
    """α, λ_gan and μ above (α 30: swept on benchmarks/joint.md; Chen et al. leave it a
    hyperparameter), and the GAN loss."""

    gan_mode: str = "vanilla"
    gan_weight: float = 1.0  # λ_gan
    pixel_weight: float = 30.0  # α
    d_distill_weight: float = 1.0  # μ


@dataclass
class TeacherGAN:
    """The frozen teacher: G_T, and D_T where the method distils the discriminator too."""

    generator: nn.Module
    discriminator: nn.Module | None = None


def discriminator_distillation(student_d: nn.Module, teacher_d: nn.Module,
                               images: list[torch.Tensor]) -> torch.Tensor:
    """Σ_x mean|D_S(x) − D_T(x)| over the given batches (the teacher runs without a graph)."""
    total = images[0].new_zeros(())
    for x in images:
        with torch.no_grad():
            target = teacher_d(x)
        total = total + F.l1_loss(student_d(x), target)
    return total


@METHODS.register("generic_joint")
class JointDistillation(StatelessMethod):
    """A student GAN learning from a frozen teacher GAN and the real ``images``.

    The family's constructor: ``Method(teacher, student, adversary, options, data, setup)``
    with a :class:`TeacherGAN`, G_S, D_S (None for a method without one), the options, the
    real images and a :class:`GANSetup`.
    """

    Options = JointOptions
    has_adversary = True  # trains D_S

    def __init__(self, teacher: TeacherGAN, student: nn.Module, adversary: nn.Module | None,
                 options: JointOptions, data: torch.Tensor, setup: GANSetup) -> None:
        if self.has_adversary and adversary is None:
            raise ConfigError("joint distillation trains a student discriminator; none given")
        if self.uses_teacher_discriminator(options) and teacher.discriminator is None:
            raise ConfigError("d_distill_weight > 0 needs the teacher's discriminator: set "
                              "discriminator_ckpt to its latest_net_D.pth, or "
                              "options.d_distill_weight: 0")
        if len(data) < setup.batch_size:
            raise ConfigError(f"train.batch_size {setup.batch_size} exceeds the {len(data)} "
                              "images")
        check_gan_mode(options.gan_mode)
        self.options = options
        self.teacher_g = teacher.generator.eval().requires_grad_(False)
        self.teacher_d = (teacher.discriminator.eval().requires_grad_(False)
                          if teacher.discriminator is not None else None)
        self.student_g, self.student_d = student, adversary
        self.images, self.device = data, setup.device
        self.batch_size = setup.batch_size
        self.order = EpochOrder(len(data), setup.batch_size, setup.seed)
        self.grid_z = latent_bank(GRID, student.nz)

    @classmethod
    def uses_teacher_discriminator(cls, options: JointOptions) -> bool:
        """Whether D_T is needed (μ > 0)."""
        return cls.has_adversary and options.d_distill_weight > 0

    def latent(self) -> torch.Tensor:
        return torch.randn(self.batch_size, self.student_g.nz, device=self.device)

    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        real = self.images[self.order.indices(iteration)].to(self.device)
        with torch.no_grad():
            fake = self.student_g(self.latent())
        losses = discriminator_loss(self.student_d, real, fake, self.options.gan_mode)
        if self.options.d_distill_weight > 0:
            losses["d_distill"] = discriminator_distillation(self.student_d, self.teacher_d,
                                                             [real, fake])
            losses["loss"] = losses["loss"] + self.options.d_distill_weight * losses["d_distill"]
        return losses

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        z = self.latent()
        fake = self.student_g(z)
        with torch.no_grad():
            target = self.teacher_g(z)
        adv = gan_loss(self.student_d(fake), True, self.options.gan_mode, for_discriminator=False)
        pixel = F.l1_loss(fake, target)
        return {"loss": self.options.gan_weight * adv + self.options.pixel_weight * pixel,
                "gan": adv, "pixel": pixel}

    @torch.no_grad()
    def log_media(self, logger: RunLogger, iteration: int) -> None:
        """Rows: the teacher's and the student's samples for the same fixed z."""
        rows = [generate(g, self.grid_z, self.device) for g in (self.teacher_g, self.student_g)]
        logger.image_grid("samples/teacher_student", torch.cat(rows), iteration, nrow=GRID)


@METHODS.register("aguinaldo")
class Aguinaldo(JointDistillation):
    """Aguinaldo et al. 2019: G_S alone on α·‖G_S(z) − G_T(z)‖² (no D_S, no real data)."""

    has_adversary = False

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        z = self.latent()
        with torch.no_grad():
            target = self.teacher_g(z)
        pixel = F.mse_loss(self.student_g(z), target)
        return {"loss": self.options.pixel_weight * pixel, "pixel": pixel}

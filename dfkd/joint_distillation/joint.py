"""Distilling a whole GAN (``tools/compress_gan.py --task dcgan``): teacher (G_T, D_T) →
student (G_S, D_S), on the shared adversarial loop.

``joint`` (Chen et al. 2020, "Distilling portable GANs"; METHODS.md section 4): D_S is the
adversary, G_S the student, G_T and D_T frozen judges of what the students should do:

    L_D = L_GAN(D_S; x real, G_S(z) fake) + μ·(‖D_S(x) − D_T(x)‖₁ + ‖D_S(G_S(z)) − D_T(G_S(z))‖₁)
    L_G = λ_gan·L_GAN(G_S; D_S) + α·‖G_S(z) − G_T(z)‖₁

``aguinaldo`` (Aguinaldo et al. 2019): the student generator alone learns the teacher's
mapping from noise to pixels, L_G = α·‖G_S(z) − G_T(z)‖² for the same z (no
discriminator, no real data). The third baseline, a student GAN trained from scratch, is
``tools/train_gan.py --task dcgan`` at the student's widths. Real batches are a function
of (seed, iteration) and z comes from torch's generator (kept by the loop's checkpoints),
so ``--resume`` is exact.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import ConfigError
from dfkd.data.epoch_order import EpochOrder
from dfkd.engine.logger import RunLogger
from dfkd.engine.loop import StatelessMethod
from dfkd.gan.evaluation import GRID, generate, latent_bank
from dfkd.losses.gan import check_gan_mode, discriminator_loss, gan_loss

JOINT_METHODS = ("joint", "aguinaldo")


def discriminator_distillation(student_d: nn.Module, teacher_d: nn.Module,
                               images: list[torch.Tensor]) -> torch.Tensor:
    """Σ_x mean|D_S(x) − D_T(x)| over the given batches (the teacher runs without a graph)."""
    total = images[0].new_zeros(())
    for x in images:
        with torch.no_grad():
            target = teacher_d(x)
        total = total + F.l1_loss(student_d(x), target)
    return total


class JointDistillation(StatelessMethod):
    """A student GAN learning from a frozen teacher GAN and the real ``images``."""

    def __init__(self, teacher_g: nn.Module, teacher_d: nn.Module | None, student_g: nn.Module,
                 student_d: nn.Module | None, images: torch.Tensor, batch_size: int, seed: int,
                 device: torch.device, method: str = "joint", gan_mode: str = "vanilla",
                 gan_weight: float = 1.0, pixel_weight: float = 10.0,
                 d_distill_weight: float = 1.0) -> None:
        if method not in JOINT_METHODS:
            raise ConfigError(f"unknown method {method!r}; use one of: {', '.join(JOINT_METHODS)}")
        if method == "joint" and student_d is None:
            raise ConfigError("joint distillation trains a student discriminator; none given")
        if method == "joint" and d_distill_weight > 0 and teacher_d is None:
            raise ConfigError("d_distill_weight > 0 needs the teacher's discriminator: set "
                              "discriminator_ckpt to its latest_net_D.pth, or "
                              "d_distill_weight: 0")
        if len(images) < batch_size:
            raise ConfigError(f"train.batch_size {batch_size} exceeds the {len(images)} images")
        check_gan_mode(gan_mode)
        self.teacher_g = teacher_g.eval().requires_grad_(False)
        self.teacher_d = teacher_d.eval().requires_grad_(False) if teacher_d is not None else None
        self.student_g, self.student_d = student_g, student_d
        self.images, self.device, self.method, self.gan_mode = images, device, method, gan_mode
        self.batch_size = batch_size
        self.weights = {"gan": gan_weight, "pixel": pixel_weight, "d_distill": d_distill_weight}
        self.order = EpochOrder(len(images), batch_size, seed)
        self.grid_z = latent_bank(GRID, student_g.nz)

    @property
    def has_adversary(self) -> bool:
        return self.method == "joint"

    def latent(self) -> torch.Tensor:
        return torch.randn(self.batch_size, self.student_g.nz, device=self.device)

    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        real = self.images[self.order.indices(iteration)].to(self.device)
        with torch.no_grad():
            fake = self.student_g(self.latent())
        losses = discriminator_loss(self.student_d, real, fake, self.gan_mode)
        if self.weights["d_distill"] > 0:
            losses["d_distill"] = discriminator_distillation(self.student_d, self.teacher_d,
                                                             [real, fake])
            losses["loss"] = losses["loss"] + self.weights["d_distill"] * losses["d_distill"]
        return losses

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        z = self.latent()
        fake = self.student_g(z)
        with torch.no_grad():
            target = self.teacher_g(z)
        if self.method == "aguinaldo":
            pixel = F.mse_loss(fake, target)
            return {"loss": self.weights["pixel"] * pixel, "pixel": pixel}
        adv = gan_loss(self.student_d(fake), True, self.gan_mode, for_discriminator=False)
        pixel = F.l1_loss(fake, target)
        return {"loss": self.weights["gan"] * adv + self.weights["pixel"] * pixel,
                "gan": adv, "pixel": pixel}

    @torch.no_grad()
    def log_media(self, logger: RunLogger, iteration: int) -> None:
        """Rows: the teacher's and the student's samples for the same fixed z."""
        rows = [generate(g, self.grid_z, self.device) for g in (self.teacher_g, self.student_g)]
        logger.image_grid("samples/teacher_student", torch.cat(rows), iteration, nrow=GRID)

"""An unconditional DCGAN on the shared adversarial loop: the teacher of joint G+D
distillation (``tools/train_gan.py --task dcgan``).

GAN (Goodfellow et al. 2014) with DCGAN networks (Radford et al. 2016): the discriminator
is the adversary and takes its step on ½[L(D(x), real) + L(D(G(z)), fake)] for a batch of
real images x and z ~ N(0, I); the generator (the loop's "student") then steps on the
non-saturating L(D(G(z)), real). ``gan_mode`` picks L (vanilla, LSGAN, hinge, WGAN-GP).
Real batches are a function of (seed, iteration); z comes from torch's generator, whose
state the loop's checkpoints keep, so ``--resume`` is exact.

The family's constructor, ``Method(teacher, student, adversary, options, data, setup)``,
read for a GAN that trains from data alone: no teacher (``None``), the generator is the
student, the discriminator the adversary; ``options`` are :class:`DCGANOptions`, ``data``
the real images (N, C, H, W) in [-1, 1] (as joint distillation's), ``setup`` a
:class:`GANSetup`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.data.epoch_order import EpochOrder
from dfkd.engine.logger import RunLogger
from dfkd.engine.loop import StatelessMethod
from dfkd.gan.evaluation import GRID, generate, latent_bank
from dfkd.gan.no_teacher import check_no_teacher
from dfkd.gan.setup import GANSetup
from dfkd.gan_teachers.registry import METHODS
from dfkd.losses.gan import check_gan_mode, discriminator_loss, gan_loss


@dataclass(frozen=True)
class DCGANOptions:
    """The GAN loss L (Goodfellow et al. 2014; DCGAN, Radford et al. 2016, trains with the
    vanilla cross-entropy loss and the non-saturating generator loss)."""

    gan_mode: str = "vanilla"


@METHODS.register("dcgan")
class UnconditionalGAN(StatelessMethod):
    """The generator learns to make images like ``data`` (N, C, H, W) in [-1, 1]."""

    Options = DCGANOptions

    def __init__(self, teacher: None, student: nn.Module, adversary: nn.Module,
                 options: DCGANOptions, data: torch.Tensor, setup: GANSetup) -> None:
        check_no_teacher("dcgan", teacher)
        batch_size = setup.batch_size
        if len(data) < batch_size:
            raise ConfigError(f"train.batch_size {batch_size} exceeds the {len(data)} images")
        check_gan_mode(options.gan_mode)
        self.options = options
        self.generator, self.discriminator = student, adversary
        self.images, self.device, self.gan_mode = data, setup.device, options.gan_mode
        self.batch_size = batch_size
        self.order = EpochOrder(len(data), batch_size, setup.seed)
        self.grid_z = latent_bank(GRID * GRID, student.nz)

    def real_batch(self, iteration: int) -> torch.Tensor:
        return self.images[self.order.indices(iteration)].to(self.device)

    def latent(self) -> torch.Tensor:
        return torch.randn(self.batch_size, self.generator.nz, device=self.device)

    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            fake = self.generator(self.latent())
        return discriminator_loss(self.discriminator, self.real_batch(iteration), fake,
                                  self.gan_mode)

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        fake = self.generator(self.latent())
        adv = gan_loss(self.discriminator(fake), True, self.gan_mode, for_discriminator=False)
        return {"loss": adv, "gan": adv}

    @torch.no_grad()
    def log_media(self, logger: RunLogger, iteration: int) -> None:
        """An 8×8 grid of samples for fixed latents."""
        logger.image_grid("samples/fixed_z", generate(self.generator, self.grid_z, self.device),
                          iteration, nrow=GRID)

"""pix2pix on the shared adversarial loop: the teachers of GAN compression (issue 6).

pix2pix (Isola et al. 2017, eq. 4): G* = arg min_G max_D L_cGAN(G, D) + λ·L_L1(G), λ = 100,
D a PatchGAN shown (input, output) pairs. In the loop's terms the discriminator is the
adversary and the generator the "student": per iteration D takes its step on
½[L(D(x, y), real) + L(D(x, G(x)), fake)], then G on L(D(x, G(x)), real) + λ·‖G(x) − y‖₁.
Batches are a function of (seed, iteration), as in ``dfkd.adversarial_kd.data_driven``, so
``--resume`` sees the batches a straight run would; from a dataset folder
(``dfkd.data.image_folders``) each batch is read with that iteration's random crops and
flips (``dfkd.gan.setup.take``), the same for D's step and G's.

The family's constructor is the distilling families' ``Method(teacher, student, adversary,
options, data, setup)``, read for a GAN that trains from data alone: there is no teacher
(``None``), the generator G is the student (the player the loop calls "generator") and the
discriminator D the adversary; ``options`` are :class:`Pix2PixOptions`, ``data`` a paired
:class:`TranslationData`, ``setup`` a :class:`GANSetup`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import ConfigError
from dfkd.engine.logger import RunLogger
from dfkd.engine.loop import StatelessMethod
from dfkd.gan.evaluation import GRID, generate
from dfkd.gan.no_teacher import check_no_teacher
from dfkd.gan.setup import GANSetup, TranslationData, take
from dfkd.gan_teachers.registry import METHODS
from dfkd.losses.gan import check_gan_mode, discriminator_loss, gan_loss


@dataclass(frozen=True)
class Pix2PixOptions:
    """pix2pix's loss (Isola et al. 2017, eq. 4): the cGAN loss of ``gan_mode`` (the paper's:
    vanilla, the cross-entropy GAN loss) plus ``l1_weight``·L1, the paper's λ = 100."""

    gan_mode: str = "vanilla"
    l1_weight: float = 100.0  # λ


@METHODS.register("pix2pix")
class Pix2Pix(StatelessMethod):
    """Paired image-to-image translation: ``data.inputs[i]`` should become ``data.targets[i]``."""

    Options = Pix2PixOptions

    def __init__(self, teacher: None, student: nn.Module, adversary: nn.Module,
                 options: Pix2PixOptions, data: TranslationData, setup: GANSetup) -> None:
        check_no_teacher("pix2pix", teacher)
        inputs, targets, batch_size = data.inputs, data.targets, setup.batch_size
        if not data.paired:
            raise ConfigError("pix2pix needs paired data (inputs[i] -> targets[i]); an unpaired "
                              "task trains CycleGAN")
        if len(inputs) != len(targets):
            raise ConfigError(f"pix2pix needs pairs: {len(inputs)} inputs, {len(targets)} targets")
        if len(inputs) < batch_size:
            raise ConfigError(f"train.batch_size {batch_size} exceeds the {len(inputs)} pairs")
        check_gan_mode(options.gan_mode)
        self.options = options
        self.generator, self.discriminator = student, adversary
        self.inputs, self.targets = inputs, targets
        self.device = setup.device
        self.gan_mode, self.l1_weight = options.gan_mode, options.l1_weight
        self.order, _ = data.orders(batch_size, setup.seed)

    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = self.order.indices(iteration)
        return (take(self.inputs, index, iteration).to(self.device),
                take(self.targets, index, iteration).to(self.device))

    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        x, y = self.batch(iteration)
        with torch.no_grad():
            fake = self.generator(x)
        return discriminator_loss(self.discriminator, torch.cat([x, y], 1),
                                  torch.cat([x, fake], 1), self.gan_mode)

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        x, y = self.batch(iteration)
        fake = self.generator(x)
        adv = gan_loss(self.discriminator(torch.cat([x, fake], 1)), True, self.gan_mode,
                       for_discriminator=False)
        l1 = F.l1_loss(fake, y)
        return {"loss": adv + self.l1_weight * l1, "gan": adv, "l1": l1}

    @torch.no_grad()
    def log_media(self, logger: RunLogger, iteration: int) -> None:
        """Rows: inputs, the generator's outputs, targets (the first training pairs)."""
        x, y = self.inputs[:GRID], self.targets[:GRID]
        fake = generate(self.generator, x, self.device)
        logger.image_grid("samples/input_output_target", torch.cat([x, fake, y]), iteration,
                          nrow=GRID)

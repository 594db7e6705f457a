"""pix2pix on the shared adversarial loop: the teachers of GAN compression (issue 6).

pix2pix (Isola et al. 2017, eq. 4): G* = arg min_G max_D L_cGAN(G, D) + λ·L_L1(G), λ = 100,
D a PatchGAN shown (input, output) pairs. In the loop's terms the discriminator is the
adversary and the generator the "student": per iteration D takes its step on
½[L(D(x, y), real) + L(D(x, G(x)), fake)], then G on L(D(x, G(x)), real) + λ·‖G(x) − y‖₁.
Batches are a function of (seed, iteration), as in ``dfkd.adversarial_kd.data_driven``, so ``--resume``
sees the batches a straight run would.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import ConfigError
from dfkd.data.epoch_order import EpochOrder
from dfkd.engine.logger import RunLogger
from dfkd.engine.loop import StatelessMethod
from dfkd.gan.evaluation import GRID, generate
from dfkd.gan_teachers.registry import METHODS
from dfkd.losses.gan import check_gan_mode, discriminator_loss, gan_loss


@METHODS.register("pix2pix")
class Pix2Pix(StatelessMethod):
    """Paired image-to-image translation: ``inputs[i]`` should become ``targets[i]``."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module, inputs: torch.Tensor,
                 targets: torch.Tensor, batch_size: int, seed: int, device: torch.device,
                 gan_mode: str = "vanilla", l1_weight: float = 100.0) -> None:
        if len(inputs) != len(targets):
            raise ConfigError(f"pix2pix needs pairs: {len(inputs)} inputs, {len(targets)} targets")
        if len(inputs) < batch_size:
            raise ConfigError(f"train.batch_size {batch_size} exceeds the {len(inputs)} pairs")
        check_gan_mode(gan_mode)
        self.generator, self.discriminator = generator, discriminator
        self.inputs, self.targets = inputs, targets
        self.device = device
        self.gan_mode, self.l1_weight = gan_mode, l1_weight
        self.order = EpochOrder(len(inputs), batch_size, seed)

    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = self.order.indices(iteration)
        return self.inputs[index].to(self.device), self.targets[index].to(self.device)

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

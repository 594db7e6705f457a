"""CycleGAN on the shared adversarial loop: the unpaired teacher of GAN compression (issue 6),
registered by ``dfkd.gan_teachers.cyclegan``; OMGD trains it online as its teacher.

CycleGAN (Zhu et al. 2017, eqs. 1-3 and section 5.2): G_A: A → B judged by D_A (fake B vs
real B), G_B: B → A judged by D_B; the generators' loss is
L_GAN(G_A) + L_GAN(G_B) + λ_A‖G_B(G_A(a)) − a‖₁ + λ_B‖G_A(G_B(b)) − b‖₁
+ λ_idt·(λ_B‖G_A(b) − b‖₁ + λ_A‖G_B(a) − a‖₁), LSGAN, λ_A = λ_B = 10, λ_idt = 0.5; each
discriminator takes its step on ½[L(D(real), real) + L(D(pool(fake)), fake)] with the
50-image pools. As in the original code (``itertools.chain`` optimizers) both generators
are one player and both discriminators the other. Batches of A and B are drawn
independently, each a function of (seed, iteration), so ``--resume`` is exact (from a
dataset folder, with that iteration's random crops and flips: ``dfkd.gan.setup.take``).

The family's constructor, ``Method(teacher, student, adversary, options, data, setup)``,
read for a GAN that trains from data alone: no teacher (``None``); the student is the
generators' player, ``{"G_A", "G_B"}``, and the adversary the discriminators',
``{"D_A", "D_B"}`` (``nn.ModuleDict``s); ``options`` are :class:`CycleGANOptions`,
``data`` a :class:`TranslationData` of domain A (``inputs``) and domain B (``targets``),
``setup`` a :class:`GANSetup`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import ConfigError
from dfkd.engine.image_pool import ImagePool
from dfkd.engine.logger import RunLogger
from dfkd.gan.evaluation import GRID, generate
from dfkd.gan.no_teacher import check_no_teacher
from dfkd.gan.setup import GANSetup, TranslationData, take
from dfkd.losses.gan import check_gan_mode, discriminator_loss, gan_loss


@dataclass(frozen=True)
class CycleGANOptions:
    """CycleGAN's loss (Zhu et al. 2017, eq. 3 and section 5.2; the original code's option
    names): LSGAN, cycle weights λ_A = λ_B = 10, identity weight λ_idt = 0.5 (a share of
    λ_A/λ_B; 0: no identity loss) and image pools of 50 generated images (0: none)."""

    gan_mode: str = "lsgan"
    lambda_A: float = 10.0  # ‖G_B(G_A(a)) − a‖₁
    lambda_B: float = 10.0  # ‖G_A(G_B(b)) − b‖₁
    lambda_identity: float = 0.5
    pool_size: int = 50


class CycleGAN:
    """Unpaired translation between domain A (``data.inputs``) and B (``data.targets``)."""

    Options = CycleGANOptions

    def __init__(self, teacher: None, student: nn.ModuleDict, adversary: nn.ModuleDict,
                 options: CycleGANOptions, data: TranslationData, setup: GANSetup) -> None:
        check_no_teacher("cyclegan", teacher)
        domain_a, domain_b, batch_size = data.inputs, data.targets, setup.batch_size
        for name, images in (("A", domain_a), ("B", domain_b)):
            if len(images) < batch_size:
                raise ConfigError(f"train.batch_size {batch_size} exceeds the {len(images)} "
                                  f"images of domain {name}")
        if options.lambda_identity > 0 and domain_a.shape[1] != domain_b.shape[1]:
            raise ConfigError(f"the identity loss needs domains of equal channels, got "
                              f"{domain_a.shape[1]} and {domain_b.shape[1]}: set "
                              "options.lambda_identity: 0")
        check_gan_mode(options.gan_mode)
        self.options = options
        self.G_A, self.G_B = student["G_A"], student["G_B"]
        self.D_A, self.D_B = adversary["D_A"], adversary["D_B"]
        self.domain_a, self.domain_b = domain_a, domain_b
        self.device = setup.device
        self.gan_mode = options.gan_mode
        self.lambda_a, self.lambda_b = options.lambda_A, options.lambda_B
        self.lambda_identity = options.lambda_identity
        self.order_a, self.order_b = data.orders(batch_size, setup.seed)
        self.fake_a_pool = ImagePool(options.pool_size)
        self.fake_b_pool = ImagePool(options.pool_size)

    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (take(self.domain_a, self.order_a.indices(iteration), iteration).to(self.device),
                take(self.domain_b, self.order_b.indices(iteration), iteration).to(self.device))

    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        a, b = self.batch(iteration)
        with torch.no_grad():
            fake_b, fake_a = self.G_A(a), self.G_B(b)
        d_a = discriminator_loss(self.D_A, b, self.fake_b_pool.query(fake_b), self.gan_mode)
        d_b = discriminator_loss(self.D_B, a, self.fake_a_pool.query(fake_a), self.gan_mode)
        return {"loss": d_a["loss"] + d_b["loss"], "D_A": d_a["loss"], "D_B": d_b["loss"]}

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        a, b = self.batch(iteration)
        fake_b, fake_a = self.G_A(a), self.G_B(b)
        losses = {
            "G_A": gan_loss(self.D_A(fake_b), True, self.gan_mode, for_discriminator=False),
            "G_B": gan_loss(self.D_B(fake_a), True, self.gan_mode, for_discriminator=False),
            "cycle_A": self.lambda_a * F.l1_loss(self.G_B(fake_b), a),
            "cycle_B": self.lambda_b * F.l1_loss(self.G_A(fake_a), b),
        }
        if self.lambda_identity > 0:
            losses["idt_A"] = self.lambda_identity * self.lambda_b * F.l1_loss(self.G_A(b), b)
            losses["idt_B"] = self.lambda_identity * self.lambda_a * F.l1_loss(self.G_B(a), a)
        return {"loss": sum(losses.values()), **losses}

    def state_dict(self) -> dict:
        return {"fake_a_pool": self.fake_a_pool.state_dict(),
                "fake_b_pool": self.fake_b_pool.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.fake_a_pool.load_state_dict(state["fake_a_pool"])
        self.fake_b_pool.load_state_dict(state["fake_b_pool"])

    @torch.no_grad()
    def log_media(self, logger: RunLogger, iteration: int) -> None:
        """Rows: real A, G_A(A), G_B(G_A(A)); then real B, G_B(B), G_A(G_B(B))."""
        a, b = self.domain_a[:GRID], self.domain_b[:GRID]
        fake_b, fake_a = generate(self.G_A, a, self.device), generate(self.G_B, b, self.device)
        rows_a = torch.cat([a, fake_b, generate(self.G_B, fake_b, self.device)])
        rows_b = torch.cat([b, fake_a, generate(self.G_A, fake_a, self.device)])
        if rows_a.shape[1:] == rows_b.shape[1:]:
            logger.image_grid("samples/A_fakeB_recA_B_fakeA_recB", torch.cat([rows_a, rows_b]),
                              iteration, nrow=GRID)
        else:  # domains of different sizes (--preprocess none / scale_width): a grid each
            logger.image_grid("samples/A_fakeB_recA", rows_a, iteration, nrow=GRID)
            logger.image_grid("samples/B_fakeA_recB", rows_b, iteration, nrow=GRID)

"""A class-conditional DCGAN on the shared adversarial loop: the teacher of PPCD-GAN
(``tools/train_gan.py --config configs/gan/fashion_conditional.yaml``).

A conditional GAN (Mirza & Osindero 2014) with a conditional-BN generator G(z, y) and a
projection discriminator D(x, y) (Miyato & Koyama 2018; networks in
``generators.conditional_dcgan``). For a real batch (x, y) of the labelled garments and
z ~ N(0, I), the discriminator (the adversary) steps on ½[L(D(x, y), real) + L(D(G(z, y), y),
fake)] (the fakes take the real batch's labels, so the class mix matches the data's); the
generator (the loop's "student") then steps on L(D(G(z, y'), y'), real) for labels y'
drawn uniformly (as BigGAN samples them). ``gan_mode`` picks L; the default is hinge, the
loss of the projection discriminator's and BigGAN's papers. Real batches are a function of
(seed, iteration); z and y' come from torch's generator, which the loop checkpoints, so
``--resume`` is exact.

The family's constructor, ``Method(teacher, student, adversary, options, data, setup)``:
no teacher, the generator is the student, the discriminator the adversary, ``data`` a
:class:`LabeledImages`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.data.epoch_order import EpochOrder
from dfkd.data.gan_tasks import UNCONDITIONAL_TASKS
from dfkd.engine.logger import RunLogger
from dfkd.engine.loop import StatelessMethod
from dfkd.gan.conditional import (
    LabeledImages,
    balanced,
    class_accuracy,
    conditional_samples,
    fashion_labeled,
)
from dfkd.gan.evaluation import GRID, generate, latent_bank, task_fid
from dfkd.gan.no_teacher import check_no_teacher
from dfkd.gan.setup import GANSetup
from dfkd.gan_teachers.registry import METHODS
from dfkd.losses.gan import check_gan_mode, discriminator_loss, gan_loss
from generators.conditional_dcgan import (
    ConditionalDCGANGenerator,
    FixedLabels,
    ProjectionDCGANDiscriminator,
)


@dataclass(frozen=True)
class ConditionalDCGANOptions:
    """The GAN loss L (hinge: Miyato & Koyama 2018, BigGAN)."""

    gan_mode: str = "hinge"


@METHODS.register("conditional_dcgan")
class ConditionalGAN(StatelessMethod):
    """G(z, y) learns to draw class y of ``data`` (a :class:`LabeledImages`)."""

    Options = ConditionalDCGANOptions

    def __init__(self, teacher: None, student: nn.Module, adversary: nn.Module,
                 options: ConditionalDCGANOptions, data: LabeledImages, setup: GANSetup) -> None:
        check_no_teacher("conditional_dcgan", teacher)
        if len(data.images) < setup.batch_size:
            raise ConfigError(f"train.batch_size {setup.batch_size} exceeds the "
                              f"{len(data.images)} images")
        check_gan_mode(options.gan_mode)
        self.options, self.gan_mode = options, options.gan_mode
        self.generator, self.discriminator = student, adversary
        self.data, self.device, self.batch_size = data, setup.device, setup.batch_size
        self.order = EpochOrder(len(data.images), setup.batch_size, setup.seed)
        self.grid_z = latent_bank(GRID, student.nz).repeat(data.num_classes, 1)
        self.grid_labels = torch.arange(data.num_classes).repeat_interleave(GRID)

    def real_batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = self.order.indices(iteration)
        return self.data.images[index].to(self.device), self.data.labels[index].to(self.device)

    def latent(self) -> torch.Tensor:
        return torch.randn(self.batch_size, self.generator.nz, device=self.device)

    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        real, labels = self.real_batch(iteration)
        with torch.no_grad():
            fake = self.generator(self.latent(), labels)
        return discriminator_loss(lambda x: self.discriminator(x, labels), real, fake,
                                  self.gan_mode)

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        z = self.latent()
        labels = torch.randint(self.data.num_classes, (self.batch_size,), device=self.device)
        fake = self.generator(z, labels)
        adv = gan_loss(self.discriminator(fake, labels), True, self.gan_mode,
                       for_discriminator=False)
        return {"loss": adv, "gan": adv}

    @torch.no_grad()
    def log_media(self, logger: RunLogger, iteration: int) -> None:
        """One row per class, the same 8 latents in every row."""
        images = generate(FixedLabels(self.generator, self.grid_labels), self.grid_z, self.device)
        logger.image_grid("samples/per_class", images, iteration, nrow=GRID)


def build_conditional_dcgan(cfg, model: str, root, device, features):
    """The conditional DCGAN of ``tools/train_gan.py`` (``cfg`` a ``GANConfig`` of task
    ``fashion``): networks, method, and an evaluation of FID and class accuracy of samples
    for fixed latents and balanced labels against the test images (best.pt: lowest FID)."""
    if cfg.task not in UNCONDITIONAL_TASKS:
        raise ConfigError(f"conditional_dcgan trains on the garments with their labels (task "
                          f"{', '.join(UNCONDITIONAL_TASKS)}), not on task {cfg.task!r}")
    if features is None:
        raise ConfigError("a conditional DCGAN run is judged by FID: set fid.classifier (e.g. "
                          "lenet5) or fid.inception_weights")
    data = fashion_labeled(root, train=True)
    test = fashion_labeled(root, train=False).images[:cfg.train.eval_pairs]
    channels, classes = data.images.shape[1], data.num_classes
    nets = {"G": ConditionalDCGANGenerator(cfg.nz, cfg.ngf, channels, classes).to(device),
            "D": ProjectionDCGANDiscriminator(cfg.ndf, channels, classes).to(device)}
    method = METHODS.get(model)(None, nets["G"], nets["D"], cfg.options, data,
                                GANSetup(cfg.train.batch_size, cfg.train.seed, device))
    z, labels = latent_bank(len(test), cfg.nz), balanced(len(test), classes)

    def evaluate() -> dict[str, float]:
        fake = conditional_samples(nets["G"], z, labels, device)
        return {**task_fid(fake, test, features), **class_accuracy(fake, labels, features)}
    return nets, method, evaluate, "fid", True

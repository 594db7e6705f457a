"""PPCD-GAN (Vo, Sugimoto & Nakayama, WACV 2022, arXiv 2203.08456; survey ref. [62]):
progressive pruning and class-aware distillation of a class-conditional GAN, as a joint
G+D distillation method (``tools/distill_gan.py --config configs/ppcd/fashion.yaml``).

Read: the abstract and the opening of the introduction (the ar5iv copy; no official code
was found). They fix the design: a student generator of progressive-pruning residual
blocks (PP-Res: every convolution followed by a learnable mask layer, parameters pruned
progressively as training goes; ``generators.ppcd_generator``), class-aware distillation
that transfers the teacher's knowledge "through instructive attention maps" and steadies
training, both trained simultaneously, end to end, on a conditional GAN (BigGAN on
ImageNet 128×128 in the paper: up to 5.2× fewer parameters); masks and pruned parameters
are discarded afterwards.

The method section (its equations, weights, schedule) could not be read. RECONSTRUCTED,
each a standard choice, named here and in configs/ppcd/fashion.yaml:

* class-aware attention maps: the teacher's and the student's *class-conditioned*
  activations ReLU(CBN(h, y)) at 4×4, 8×8 and 16×16, for the same (z, y); each map is
  the attention of Zagoruyko & Komodakis 2017 (eq. 2, p = 2: a = normalize(mean_c h_c²));
* the class-aware attention loss (:func:`class_aware_attention_loss`):
  L_CA = Σ_l (1/|Y|) Σ_{k∈Y} (1/n_k) Σ_{i: y_i = k} mean_j (a_S^l(i)_j − a_T^l(i)_j)²,
  Y the classes in the batch, n_k their counts: every class weighs the same whatever its
  share of the batch;
* the student generator's loss: L_G = λ_adv·L_GAN(D(G_S(z, y), y)) + λ_CA·L_CA
  + λ_m·mean|m| (+ λ_pix·‖G_S(z, y) − G_T(z, y)‖₁, not in the abstract, 0 by default);
* the discriminator: a projection discriminator started from the teacher's
  (``discriminator_init: teacher``; ``scratch``: a new one of ``student_ndf``), stepping
  on ½[L(D(x, y), real) + L(D(G_S(z, y), y), fake)] for real (x, y), fakes drawn for the
  real batch's labels; the generator's labels are drawn uniformly (as BigGAN's);
* pruning: ``dfkd.joint_distillation.ppcd_masks`` (cubic schedule to ``sparsity`` between
  ``prune_start`` and ``prune_end``, smallest |m| first, mask L1).

Also not the paper's: the teacher is a conditional DCGAN (``generators.conditional_dcgan``)
rather than BigGAN, as the toolkit's GAN tasks are 32×32 Fashion-MNIST garments; the
student is therefore not initialized from the teacher (other architecture) but from scratch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import ConfigError
from dfkd.data.epoch_order import EpochOrder
from dfkd.engine.logger import RunLogger
from dfkd.engine.loop import StatelessMethod
from dfkd.gan.conditional import LabeledImages
from dfkd.gan.evaluation import GRID, generate, latent_bank
from dfkd.gan.setup import GANSetup
from dfkd.joint_distillation.joint import TeacherGAN
from dfkd.joint_distillation.ppcd_masks import (
    cubic_sparsity,
    is_prune_step,
    mask_penalty,
    prune_masks,
    sparsity_of,
)
from dfkd.joint_distillation.registry import METHODS
from dfkd.losses.features import attention_map
from dfkd.losses.gan import check_gan_mode, discriminator_loss, gan_loss
from generators.conditional_dcgan import FixedLabels

DISCRIMINATOR_INITS = ("teacher", "scratch")


@dataclass
class PPCDOptions:
    """λ_adv, λ_CA, λ_m, λ_pix and the pruning schedule (all reconstructed: see above)."""

    gan_mode: str = "hinge"  # BigGAN's (and the projection discriminator's) loss
    gan_weight: float = 1.0  # λ_adv
    attention_weight: float = 250.0  # λ_CA (AT/ZSKT's β for this mean-squared form)
    mask_weight: float = 0.1  # λ_m
    pixel_weight: float = 0.0  # λ_pix (not in PPCD's abstract)
    sparsity: float = 0.75  # fraction of each mask layer's channels cut by prune_end
    prune_start: int = 300  # iteration where pruning starts
    prune_end: int = 2100  # iteration where the final sparsity is reached
    prune_every: int = 100  # iterations between pruning steps
    min_channels: int = 1  # channels every mask layer keeps
    discriminator_init: str = "teacher"  # or scratch


def check_options(options: PPCDOptions) -> None:
    """One ConfigError line for a value the method cannot run with."""
    if not 0.0 <= options.sparsity < 1.0:
        raise ConfigError(f"options.sparsity must be in [0, 1), got {options.sparsity}")
    if options.prune_end < options.prune_start:
        raise ConfigError(f"options.prune_end ({options.prune_end}) comes before "
                          f"options.prune_start ({options.prune_start})")
    if options.prune_every < 1:
        raise ConfigError(f"options.prune_every must be >= 1, got {options.prune_every}")
    if options.min_channels < 1:
        raise ConfigError(f"options.min_channels must be >= 1, got {options.min_channels}")
    if options.discriminator_init not in DISCRIMINATOR_INITS:
        raise ConfigError(f"options.discriminator_init must be one of "
                          f"{', '.join(DISCRIMINATOR_INITS)}, got {options.discriminator_init!r}")
    check_gan_mode(options.gan_mode)


def class_aware_attention_loss(student_maps: Sequence[torch.Tensor],
                               teacher_maps: Sequence[torch.Tensor],
                               labels: torch.Tensor) -> torch.Tensor:
    """L_CA above: per layer, the squared difference of the attention maps averaged over
    positions, then within each class of ``labels``, then over the classes present; summed
    over layers. Channel counts may differ, spatial sizes must match."""
    if len(student_maps) != len(teacher_maps):
        raise ValueError(f"as many student as teacher maps needed, got {len(student_maps)} "
                         f"and {len(teacher_maps)}")
    classes, index = torch.unique(labels, return_inverse=True)
    counts = torch.bincount(index, minlength=len(classes)).to(student_maps[0].dtype)
    total = student_maps[0].new_zeros(())
    for s, t in zip(student_maps, teacher_maps):
        if s.shape[-2:] != t.shape[-2:]:
            raise ValueError(f"attention maps differ in size: student {tuple(s.shape[-2:])}, "
                             f"teacher {tuple(t.shape[-2:])}")
        per_sample = (attention_map(s) - attention_map(t)).pow(2).mean(dim=1)
        per_class = torch.zeros_like(counts).index_add(0, index, per_sample) / counts
        total = total + per_class.mean()
    return total


@METHODS.register("ppcd")
class PPCD(StatelessMethod):
    """A pruned conditional student G_S (a ``PPResGenerator``) learning from a frozen
    conditional teacher G_T and against a projection discriminator D on labelled images.

    The family's constructor: ``PPCD(TeacherGAN(G_T, D_T), G_S, D, options, data, setup)``,
    ``data`` a :class:`LabeledImages`."""

    Options = PPCDOptions
    has_adversary = True
    conditional = True  # tools/distill_gan.py runs it with dfkd.joint_distillation.ppcd_run

    def __init__(self, teacher: TeacherGAN, student: nn.Module, adversary: nn.Module,
                 options: PPCDOptions, data: LabeledImages, setup: GANSetup) -> None:
        check_options(options)
        if adversary is None:
            raise ConfigError("ppcd trains a discriminator beside the student; none given")
        if len(data.images) < setup.batch_size:
            raise ConfigError(f"train.batch_size {setup.batch_size} exceeds the "
                              f"{len(data.images)} images")
        for name, net in (("teacher", teacher.generator), ("student", student)):
            if getattr(net, "num_classes", None) != data.num_classes:
                raise ConfigError(f"the {name} generator draws {getattr(net, 'num_classes', '?')} "
                                  f"classes, the data has {data.num_classes}")
        self.options = options
        self.teacher_g = teacher.generator.eval().requires_grad_(False)
        self.student_g, self.discriminator = student, adversary
        self.masks = student.masks()
        self.data, self.device, self.batch_size = data, setup.device, setup.batch_size
        self.order = EpochOrder(len(data.images), setup.batch_size, setup.seed)
        self.grid_z = latent_bank(GRID, student.nz).repeat(data.num_classes, 1)
        self.grid_labels = torch.arange(data.num_classes).repeat_interleave(GRID)

    @classmethod
    def uses_teacher_discriminator(cls, options: PPCDOptions) -> bool:
        return options.discriminator_init == "teacher"

    def target_sparsity(self, iteration: int) -> float:
        o = self.options
        return cubic_sparsity(iteration, o.sparsity, o.prune_start, o.prune_end)

    def begin_iteration(self, iteration: int) -> dict[str, torch.Tensor]:
        """A pruning step where the schedule has one; logs the masks' sparsity."""
        o = self.options
        if is_prune_step(iteration, o.prune_start, o.prune_end, o.prune_every):
            prune_masks(self.masks, self.target_sparsity(iteration), o.min_channels)
        return {"pruning/sparsity": torch.tensor(sparsity_of(self.masks))}

    def real_batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = self.order.indices(iteration)
        return self.data.images[index].to(self.device), self.data.labels[index].to(self.device)

    def latent(self) -> torch.Tensor:
        return torch.randn(self.batch_size, self.student_g.nz, device=self.device)

    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        real, labels = self.real_batch(iteration)
        with torch.no_grad():
            fake = self.student_g(self.latent(), labels)
        return discriminator_loss(lambda x: self.discriminator(x, labels), real, fake,
                                  self.options.gan_mode)

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        o = self.options
        z = self.latent()
        labels = torch.randint(self.data.num_classes, (self.batch_size,), device=self.device)
        fake, student_maps = self.student_g.features(z, labels)
        with torch.no_grad():
            target, teacher_maps = self.teacher_g.features(z, labels)
        adv = gan_loss(self.discriminator(fake, labels), True, o.gan_mode,
                       for_discriminator=False)
        attention = class_aware_attention_loss(student_maps, teacher_maps, labels)
        masks = mask_penalty(self.masks)
        loss = o.gan_weight * adv + o.attention_weight * attention + o.mask_weight * masks
        losses = {"gan": adv, "attention": attention, "mask_l1": masks}
        if o.pixel_weight > 0:
            losses["pixel"] = F.l1_loss(fake, target)
            loss = loss + o.pixel_weight * losses["pixel"]
        return {"loss": loss, **losses}

    @torch.no_grad()
    def log_media(self, logger: RunLogger, iteration: int) -> None:
        """Per class, a row of the teacher's samples over a row of the student's (same z)."""
        rows = [generate(FixedLabels(g, self.grid_labels), self.grid_z, self.device)
                for g in (self.teacher_g, self.student_g)]
        pairs = torch.stack([r.view(-1, GRID, *r.shape[1:]) for r in rows], 1)
        logger.image_grid("samples/teacher_student_per_class", pairs.flatten(0, 2), iteration,
                          nrow=GRID)

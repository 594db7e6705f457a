"""GAN Compression distillation on the shared adversarial loop (Li et al. 2020, eq. 5).

A narrow student generator G_S learns from a frozen teacher G_T (pix2pix or one CycleGAN
direction) with

    L = λ_gan·L_GAN(G_S, D) + λ_recon·‖G_S(x) − y‖₁ + λ_distill·Σ_t ‖f_t(G_S^t(x)) − G_T^t(x)‖²

where y is the target for paired data and G_T(x) for unpaired data, G^t are the outputs
of the distilled layers (recorded with the shared ``PairRecorder``) and f_t a learnable
1×1 convolution from the student's to the teacher's channels (trained with the student).
D is the adversary: for paired data a conditional PatchGAN on (x, image) pairs judging
(x, y) real and (x, G_S(x)) fake, for unpaired data judging real target-domain images
against G_S(x). It usually starts from the teacher's discriminator. Batches are a
function of (seed, iteration), so ``--resume`` is exact.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import ConfigError
from dfkd.core.modes import eval_mode
from dfkd.data.epoch_order import EpochOrder
from dfkd.engine.logger import RunLogger
from dfkd.engine.loop import StatelessMethod
from dfkd.gan.evaluation import GRID, generate
from dfkd.gan.setup import GANSetup, TranslationData
from dfkd.generator_distillation.registry import METHODS
from dfkd.losses.gan import check_gan_mode, discriminator_loss, gan_loss
from dfkd.nets.hooks import PairRecorder


def feature_distillation(student_maps: list[torch.Tensor], teacher_maps: list[torch.Tensor],
                         mappings: nn.ModuleList) -> torch.Tensor:
    """Σ_t mean‖f_t(s_t) − t_t‖² (GAN Compression, eq. 4): each 1×1 map f_t lifts a student
    feature to its teacher's channels; the squared error is averaged over elements."""
    return sum(F.mse_loss(f(s), t) for f, s, t in zip(mappings, student_maps, teacher_maps))


def channel_mappings(teacher: nn.Module, student: nn.Module, layers: list[str],
                     probe: torch.Tensor) -> nn.ModuleList:
    """One 1×1 convolution per layer, student channels → teacher channels, sized by running
    ``probe`` through both; layers whose maps differ in resolution are an error."""
    with torch.no_grad(), eval_mode(teacher, student), \
            PairRecorder(teacher, student, [(n, n) for n in layers]) as rec:
        teacher(probe), student(probe)
    mappings = nn.ModuleList()
    for name, s, t in zip(layers, rec.student_maps, rec.teacher_maps):
        if s.dim() != 4 or s.shape[2:] != t.shape[2:]:
            raise ConfigError(f"distill layer {name}: student map {tuple(s.shape[1:])} and "
                              f"teacher map {tuple(t.shape[1:])} differ in resolution; pick "
                              "layers of the same position in both generators")
        mappings.append(nn.Conv2d(s.shape[1], t.shape[1], kernel_size=1))
    return mappings.to(probe.device)


@dataclass
class GANCompressionOptions:
    """The weights of eq. 5 (Li et al. 2020: λ_recon 100 for pix2pix, as its L1; λ_distill 1),
    the adversarial loss and the distilled layers (empty: ``generators.pix2pix.distill_layers``
    of the teacher's netG)."""

    gan_mode: str = "vanilla"
    gan_weight: float = 1.0
    recon_weight: float = 100.0
    distill_weight: float = 1.0
    distill_layers: list[str] = field(default_factory=list)


@METHODS.register("gan_compression")
class GANCompression(StatelessMethod):
    """Distil ``teacher`` into ``student`` against ``discriminator`` on ``data``.

    The family's constructor: ``Method(teacher, student, adversary, options, data, setup)``
    with the method's ``Options``, the task's :class:`TranslationData` and a
    :class:`GANSetup`; ``parts()`` names its learnable modules by the player that trains them.
    """

    Options = GANCompressionOptions

    def __init__(self, teacher: nn.Module, student: nn.Module, discriminator: nn.Module,
                 options: GANCompressionOptions, data: TranslationData, setup: GANSetup) -> None:
        inputs, targets, paired = data.inputs, data.targets, data.paired
        batch_size, seed = setup.batch_size, setup.seed
        if paired and len(inputs) != len(targets):
            raise ConfigError(f"a paired task needs pairs: {len(inputs)} inputs, "
                              f"{len(targets)} targets")
        if min(len(inputs), len(targets)) < batch_size:
            raise ConfigError(f"train.batch_size {batch_size} exceeds the "
                              f"{min(len(inputs), len(targets))} training images")
        check_gan_mode(options.gan_mode)
        self.options = options
        self.teacher = teacher.eval().requires_grad_(False)
        self.student, self.discriminator = student, discriminator
        self.inputs, self.targets, self.paired = inputs, targets, paired
        self.device = setup.device
        self.layers = list(options.distill_layers) if options.distill_weight > 0 else []
        self.gan_mode = options.gan_mode
        self.weights = {"gan": options.gan_weight, "recon": options.recon_weight,
                        "distill": options.distill_weight}
        self.order = EpochOrder(len(inputs), batch_size, seed)
        self.target_order = self.order if paired else EpochOrder(len(targets), batch_size, seed + 1)
        self.mappings = channel_mappings(teacher, student, self.layers,
                                         inputs[:2].to(self.device))

    def parts(self) -> dict[str, nn.ModuleDict]:
        """The 1×1 mappings f_t train with the student (saved as its ``aux.mappings``)."""
        return {"student": nn.ModuleDict({"mappings": self.mappings})}

    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and (paired) their targets, or (unpaired) an independent batch of reals."""
        return (self.inputs[self.order.indices(iteration)].to(self.device),
                self.targets[self.target_order.indices(iteration)].to(self.device))

    def judge(self, x: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """D's patch logits: on (x, image) pairs for paired data, on the image alone else."""
        return self.discriminator(torch.cat([x, image], 1) if self.paired else image)

    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        x, real = self.batch(iteration)
        with torch.no_grad():
            fake = self.student(x)
        if self.paired:
            real, fake = torch.cat([x, real], 1), torch.cat([x, fake], 1)
        return discriminator_loss(self.discriminator, real, fake, self.gan_mode)

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        x, real = self.batch(iteration)
        with PairRecorder(self.teacher, self.student, [(n, n) for n in self.layers]) as rec:
            with torch.no_grad():
                teacher_out = self.teacher(x)
            fake = self.student(x)
        terms = {"gan": gan_loss(self.judge(x, fake), True, self.gan_mode,
                                 for_discriminator=False),
                 "recon": F.l1_loss(fake, real if self.paired else teacher_out)}
        if self.layers:
            terms["distill"] = feature_distillation(rec.student_maps, rec.teacher_maps,
                                                    self.mappings)
        total = sum(self.weights[k] * v for k, v in terms.items())
        return {"loss": total, **terms}

    @torch.no_grad()
    def log_media(self, logger: RunLogger, iteration: int) -> None:
        """Rows: inputs, the teacher's outputs, the student's (the first training inputs)."""
        x = self.inputs[:GRID]
        rows = [x, generate(self.teacher, x, self.device), generate(self.student, x, self.device)]
        logger.image_grid("samples/input_teacher_student", torch.cat(rows), iteration, nrow=GRID)

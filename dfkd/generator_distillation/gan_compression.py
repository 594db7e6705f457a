"""GAN Compression distillation on the shared adversarial loop (Li et al., CVPR 2020).

A narrow student generator G_S learns from a frozen teacher G_T (pix2pix or one CycleGAN
direction) with the paper's full objective (Eq. 4)

    L = λ_gan·L_cGAN(G_S, D) + λ_recon·L_recon + λ_distill·Σ_t ‖f_t(G_S^t(x)) − G_T^t(x)‖²

where L_recon (Eq. 1) is ‖G_S(x) − y‖₁ to the target y on paired data and ‖G_S(x) −
G_T(x)‖₁ to the teacher's output on unpaired data (``options.recon_target``; ``auto``
switches on pairing as the official code does), L_cGAN (Eq. 2) is the adversarial loss
against D, and the distillation term (Eq. 3) compares the outputs of the distilled layers
(recorded with the shared ``PairRecorder``), each student map lifted to the teacher's
channels by a learnable 1×1 convolution f_t (trained with the student). D is the
adversary: for paired data a conditional PatchGAN on (x, image) pairs judging (x, y) real
and (x, G_S(x)) fake, for unpaired data judging real target-domain images against G_S(x).
(Equation numbers as recalled from the CVPR paper; its text was not reachable here.)

What follows the official code's distillation stage (mit-han-lab/gan-compression:
``distillers/base_resnet_distiller.py``, ``distillers/resnet_distiller.py``,
``utils/weight_transfer.py``, ``scripts/{pix2pix/edges2shoes-r,cycle_gan/horse2zebra}/
distill.sh``, ``options/distill_options.py``):

* the student starts from the teacher (``options.student_init=teacher``, the official
  ``--restore_pretrained_G_path`` = the teacher's file): L1 channel selection,
  :func:`generators.channel_selection.select_channels`. It runs once, before the first
  checkpoint (``init_student``; ``train.compress_run`` skips it on ``--resume``);
* D starts from the teacher's discriminator (``--restore_D_path``; here the
  ``latest_net_D*.pth`` beside the teacher's file, ``discriminator_ckpt: auto``);
* GAN loss: hinge for pix2pix (``distill_options.py`` default), LSGAN for CycleGAN
  (``horse2zebra/distill.sh``); weights pix2pix λ_recon 100, λ_distill 1; horse2zebra
  λ_recon 10 (to the teacher's output), λ_distill 0.01; λ_gan 1; D's loss ½(real + fake);
* distilled layers ``model.9/12/15/18`` of the 9-block ResNet; the 1×1 maps f_t initialized
  N(0, 0.02) with zero bias (``init_net``), trained with G's optimizer; each term an MSE
  averaged over elements.

Deviations, and why:

* the official stage distils a "mobile" (separable-convolution) teacher into a mobile
  student; here teacher and student are the plain pix2pix/CycleGAN ResNet of the original
  code (the teachers this toolkit trains and reads), which the official transfer also
  handles (``resnet_9blocks``);
* the official step computes G_S(x) once, backpropagates D's loss and then G's (G's GAN
  term sees D before its update) and steps both; the shared loop steps D first and then
  evaluates G's loss against the updated D on a fresh forward of the same batch;
* ``resnet_6blocks`` distils ``model.9/11/13/15`` (``generators.pix2pix.distill_layers``;
  the paper has no 6-block setting) and is pruned by the same rule; U-Net teachers have
  no official transfer rule or layers: they need ``distill_layers`` named and
  ``student_init: scratch``;
* BatchNorm teachers (this toolkit's pix2pix) have their norm parameters and statistics
  copied at the kept channels; the official stage uses instance norm (nothing to copy).

Batches are a function of (seed, iteration), so ``--resume`` is exact.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.config import check_choice
from dfkd.core.errors import ConfigError
from dfkd.core.modes import eval_mode
from dfkd.engine.logger import RunLogger
from dfkd.engine.loop import StatelessMethod
from dfkd.gan.evaluation import GRID, generate
from dfkd.gan.setup import GANSetup, TranslationData, take
from dfkd.generator_distillation.registry import METHODS
from dfkd.losses.gan import check_gan_mode, discriminator_loss, gan_loss
from dfkd.nets.hooks import PairRecorder
from generators.channel_selection import init_from_teacher

STUDENT_INITS = ("teacher", "scratch")
RECON_TARGETS = ("auto", "target", "teacher")


def feature_distillation(student_maps: list[torch.Tensor], teacher_maps: list[torch.Tensor],
                         mappings: nn.ModuleList) -> torch.Tensor:
    """Σ_t mean‖f_t(s_t) − t_t‖² (GAN Compression, Eq. 3): each 1×1 map f_t lifts a student
    feature to its teacher's channels; the squared error is averaged over elements, as the
    official ``calc_distill_loss`` (``F.mse_loss``) does."""
    return sum(F.mse_loss(f(s), t) for f, s, t in zip(mappings, student_maps, teacher_maps))


def channel_mappings(teacher: nn.Module, student: nn.Module, layers: list[str],
                     probe: torch.Tensor) -> nn.ModuleList:
    """One 1×1 convolution per layer, student channels → teacher channels, sized by running
    ``probe`` through both and initialized N(0, 0.02) with zero bias (the official
    ``init_net`` of its adaptors); layers whose maps differ in resolution are an error."""
    with torch.no_grad(), eval_mode(teacher, student), \
            PairRecorder(teacher, student, [(n, n) for n in layers]) as rec:
        teacher(probe), student(probe)
    mappings = nn.ModuleList()
    for name, s, t in zip(layers, rec.student_maps, rec.teacher_maps):
        if s.dim() != 4 or s.shape[2:] != t.shape[2:]:
            raise ConfigError(f"distill layer {name}: student map {tuple(s.shape[1:])} and "
                              f"teacher map {tuple(t.shape[1:])} differ in resolution; pick "
                              "layers of the same position in both generators")
        mapping = nn.Conv2d(s.shape[1], t.shape[1], kernel_size=1)
        with torch.no_grad():
            nn.init.normal_(mapping.weight, 0.0, 0.02), nn.init.zeros_(mapping.bias)
        mappings.append(mapping)
    return mappings.to(probe.device)


@dataclass(frozen=True)
class GANCompressionOptions:
    """The official distiller's defaults (Li et al. 2020, pix2pix): the weights of Eq. 4 (λ_gan 1,
    λ_recon 100, λ_distill 1), hinge loss; the CycleGAN recipe (horse2zebra) sets lsgan,
    λ_recon 10 and λ_distill 0.01 in its config.

    ``recon_target``: ``auto`` (the official switch: the target on paired data, the
    teacher's output on unpaired data), ``target`` (paired only) or ``teacher``.
    ``student_init``: ``teacher`` (L1 channel selection from the teacher, the official
    start) or ``scratch`` (``define_G``'s N(0, 0.02) weights). ``distill_layers``: empty
    means ``generators.pix2pix.distill_layers`` of the teacher's netG."""

    gan_mode: str = "hinge"
    gan_weight: float = 1.0
    recon_weight: float = 100.0
    distill_weight: float = 1.0
    recon_target: str = "auto"
    student_init: str = "teacher"
    distill_layers: list[str] = field(default_factory=list)


def check_options(options: GANCompressionOptions, paired: bool) -> None:
    """One ConfigError line for a bad choice among the string options."""
    check_gan_mode(options.gan_mode)
    check_choice("options.student_init", options.student_init, STUDENT_INITS)
    check_choice("options.recon_target", options.recon_target, RECON_TARGETS)
    if options.recon_target == "target" and not paired:
        raise ConfigError("options.recon_target=target needs paired data; this task is "
                          "unpaired: use teacher (or auto)")


def init_student(teacher: nn.Module, student: nn.Module, options: GANCompressionOptions) -> str:
    """Start ``student`` as ``options.student_init`` says (``teacher``: the official L1
    channel selection, in place; ``scratch``: as built); returns a description. Call it
    once, before the first checkpoint, never on ``--resume``."""
    if check_choice("options.student_init", options.student_init, STUDENT_INITS) == "scratch":
        return "scratch (random N(0, 0.02) weights)"
    init_from_teacher(teacher, student)
    return "pruned from the teacher (L1 channel selection)"


@METHODS.register("gan_compression")
class GANCompression(StatelessMethod):
    """Distil ``teacher`` into ``student`` against ``discriminator`` on ``data``.

    The family's constructor: ``Method(teacher, student, adversary, options, data, setup)``
    with the method's ``Options``, the task's :class:`TranslationData` and a
    :class:`GANSetup`; ``parts()`` names its learnable modules by the player that trains them.
    """

    Options = GANCompressionOptions
    init_student = staticmethod(init_student)

    def __init__(self, teacher: nn.Module, student: nn.Module, discriminator: nn.Module,
                 options: GANCompressionOptions, data: TranslationData, setup: GANSetup) -> None:
        inputs, targets, paired = data.inputs, data.targets, data.paired
        data.check_size(setup.batch_size)
        batch_size, seed = setup.batch_size, setup.seed
        check_options(options, paired)
        self.options = options
        self.teacher = teacher.eval().requires_grad_(False)
        self.student, self.discriminator = student, discriminator
        self.inputs, self.targets, self.paired = inputs, targets, paired
        self.device = setup.device
        self.layers = list(options.distill_layers) if options.distill_weight > 0 else []
        self.gan_mode = options.gan_mode
        self.recon_to_target = options.recon_target == "target" or (
            options.recon_target == "auto" and paired)
        self.weights = {"gan": options.gan_weight, "recon": options.recon_weight,
                        "distill": options.distill_weight}
        self.order, self.target_order = data.orders(batch_size, seed)
        self.mappings = channel_mappings(teacher, student, self.layers,
                                         inputs[:2].to(self.device))

    def parts(self) -> dict[str, nn.ModuleDict]:
        """The 1×1 mappings f_t train with the student (saved as its ``aux.mappings``)."""
        return {"student": nn.ModuleDict({"mappings": self.mappings})}

    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and (paired) their targets, or (unpaired) an independent batch of reals."""
        return (take(self.inputs, self.order.indices(iteration), iteration).to(self.device),
                take(self.targets, self.target_order.indices(iteration), iteration).to(self.device))

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
                 "recon": F.l1_loss(fake, real if self.recon_to_target else teacher_out)}
        if self.layers:
            terms["distill"] = self.distill_term(rec.student_maps, rec.teacher_maps)
        total = sum(self.weights[k] * v for k, v in terms.items())
        return {"loss": total, **terms, **self.logged_figures()}

    def distill_term(self, student_maps: list[torch.Tensor],
                     teacher_maps: list[torch.Tensor]) -> torch.Tensor:
        """Eq. 3 on the distilled layers' maps (a subclass replaces the knowledge form)."""
        return feature_distillation(student_maps, teacher_maps, self.mappings)

    def logged_figures(self) -> dict[str, torch.Tensor]:
        """Figures logged beside the loss terms (none here)."""
        return {}

    @torch.no_grad()
    def log_media(self, logger: RunLogger, iteration: int) -> None:
        """Rows: inputs, the teacher's outputs, the student's (the first training inputs)."""
        x = self.inputs[:GRID]
        rows = [x, generate(self.teacher, x, self.device), generate(self.student, x, self.device)]
        logger.image_grid("samples/input_teacher_student", torch.cat(rows), iteration, nrow=GRID)

"""DCD: discriminator-cooperated feature map distillation (Hu, Lin, You, Chao & Ji, CVPR 2023,
arXiv 2212.14169; survey [61]) on the shared adversarial loop.

What could be read: the abstract and the opening of the introduction (ar5iv copy), and the
official code (github poopit/DCD-official: ``distillers/*best_distiller.py``,
``scripts/*/distill.sh``, ``options/distill_options.py``). The method section, its
equations and its loss weights were NOT readable: the student's objective below is
reconstructed from the code, with the code's bugs fixed as the abstract describes the
method (equation (1) is numbered here; the paper's numbers could not be read). The student
generator G_S minimizes

    L_S = λ_gan·L_GAN(D_T(x, G_S(x))) + λ_style·Σ_l ‖Gram(φ_l(G_S(x))) − Gram(φ_l(G_T(x)))‖₁
          + λ_feat·‖φ_f(G_S(x)) − φ_f(G_T(x))‖₁ + λ_DCD·L_DCD                          (1)

with L_DCD (:func:`dfkd.generator_distillation.dcd_losses.dcd_loss`): the student's and the
teacher's feature maps at ``model.9/12/15/18`` mapped by Conv1×1+BN+ReLU adapters onto the
teacher discriminator's input channels, passed through the teacher discriminator D_T, and
compared by L1 at its penultimate activation (the abstract: D_T serves as a transformation
under which the student's intermediate maps should look, perceptually, like the
teacher's). Gram(f) = f·fᵀ/(C·H·W), L1 element means (:mod:`dfkd.losses.translation`).

Collaborative adversarial training (the abstract: the teacher discriminator is built from
scratch and trained together with the student generator; the survey, seed 000 section 3, words it
as teacher and student generators trained together), and how it maps onto the loop's
players:

* **adversary** (the loop's ``discriminator`` player) = the teacher discriminator D_T, the
  ``discriminator`` this constructor receives. It is at once the feature space of L_DCD and
  of the style/feature terms, the student's adversary in L_GAN, and trained every
  iteration, ½[L(D_T(x, y), real) + L(D_T(x, fake), fake)], the fakes being the frozen
  teacher's outputs G_T(x) as in the official code (``options.discriminator_fakes``:
  ``student`` or ``both`` let it judge the student's too). Its start is the run's
  ``discriminator_ckpt``: ``""`` builds it from scratch, as the paper says (the configs
  here); ``auto`` starts it from the teacher's own ``latest_net_D*.pth``.
* **student** = G_S plus, as its ``aux``, the student's adapters A_S (trained) and the
  teacher's adapters A_T: fixed random (eval mode, no gradient, so the optimizer leaves
  them as they are; saved with the student's checkpoint all the same), as the official
  CycleGAN distiller has them, by default (``options.teacher_adapters: frozen``), or
  trained with the student as the official pix2pix distiller has them (``trained``).
* **critic**: none. The teacher generator G_T is frozen.

The official code's bugs, not followed (the paper's method is): the CycleGAN distiller
reads ``opt.lamda_CD`` (a crash) and feeds the *teacher's* output to D for the student's GAN
term; the pix2pix distiller computes the student's GAN term (on the student's image without
its condition x, which a conditional D cannot take) and never adds it to the loss; and its
hook name (``block4s.1.block.2``) matches no module of the ``n_layers`` discriminator its
script asks for, so its DCD term is an empty sum. Here the GAN term is on (x, G_S(x)) and
added, and DCD is taken at the penultimate activation of whatever PatchGAN D_T is.

Deviations, and why:

* φ (the style/feature features): the official code uses an ImageNet VGG16 (relu1_2, 2_2,
  3_3, 4_3 for style, relu2_2 for feature). No VGG weights can be had on these machines, so
  φ is the stated substitute, the teacher discriminator's activations on (x, image)
  (``options.perceptual_features: teacher_discriminator``): style at every activation
  (``model.1/4/7/10`` of a 3-layer PatchGAN, four like VGG's), feature at the second
  (``model.4``, as relu2_2 is VGG's second);
* the teacher generator is pretrained and frozen (this toolkit distils a trained teacher);
  the official code trains it online beside the student (inherited from OMGD), with D_T
  as its adversary;
* weights: λ_style 1e4 and λ_feat 10 (the code's ``AGD_weights`` default, OMGD's values;
  the released scripts pass OMGD's four-number string, which the code would read as style
  10, feature 1e4), λ_DCD 1 (``--lambda_CD 1``), λ_gan 1, hinge loss (``gan_mode``
  default; the scripts set none);
* CycleGAN: the official schedule trains the teacher pair for some epochs, then the student
  for four times as many against the fixed teacher D; here D_T and G_S alternate every
  iteration (the loop's ``discriminator.steps`` / ``student.steps``), A → B only;
* ``options.teacher_adapters: frozen`` for pix2pix too (the official pix2pix distiller
  trains them): two trained Conv+BN+ReLU adapters can meet DCD by both shrinking to one
  constant map (BN's scale to 0), which teaches the student nothing; a fixed teacher side
  leaves the student's adapter a real target;
* ``options.dcd_input``: ``map`` feeds the adapted maps to D_T at their own size (the
  official code; 64×64 for 256×256 images); ``image`` first resizes them (bilinear) to the
  training images' size, for small images (the embedded 32×32 tasks give 8×8 maps, too
  small for a PatchGAN's three stride-2 convolutions: ``map`` is then a ConfigError).

Batches are a function of (seed, iteration) and every learnable part belongs to a player,
so ``--resume`` is exact.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from dfkd.core.config import check_choice
from dfkd.core.errors import ConfigError
from dfkd.engine.logger import RunLogger
from dfkd.engine.loop import StatelessMethod
from dfkd.gan.evaluation import GRID, generate
from dfkd.gan.setup import GANSetup, TranslationData, take
from dfkd.generator_distillation.dcd_losses import (
    activation_layers,
    check_discriminator_takes,
    check_layers,
    dcd_loss,
    discriminator_features,
    generator_adapters,
    input_channels,
)
from dfkd.generator_distillation.gan_compression import STUDENT_INITS, init_student
from dfkd.generator_distillation.registry import METHODS
from dfkd.losses.gan import check_gan_mode, discriminator_loss, gan_loss
from dfkd.losses.translation import feature_loss, style_loss
from dfkd.nets.hooks import PairRecorder

DISCRIMINATOR_FAKES = ("teacher", "student", "both")
TEACHER_ADAPTERS = ("trained", "frozen")
DCD_INPUTS = ("map", "image")
PERCEPTUAL_FEATURES = ("teacher_discriminator",)


@dataclass(frozen=True)
class DCDOptions:
    """Eq. (1)'s weights (λ_gan 1, λ_style 1e4, λ_feat 10, λ_DCD = ``distill_weight`` 1) and
    the choices the docstring of :mod:`dfkd.generator_distillation.dcd` explains.

    ``distill_layers``: the generator layers (empty: ``generators.pix2pix.distill_layers``
    of the teacher's netG, ``model.9/12/15/18`` of the 9-block ResNet). ``dcd_layer``: the
    D_T module compared by DCD (empty: its last activation, the penultimate layer).
    ``style_layers``: D_T modules of the style term (empty: every activation);
    ``feature_layer``: the feature term's (empty: the second activation)."""

    gan_mode: str = "hinge"
    gan_weight: float = 1.0
    style_weight: float = 1e4
    feature_weight: float = 10.0
    distill_weight: float = 1.0
    distill_layers: list[str] = field(default_factory=list)
    discriminator_fakes: str = "teacher"
    teacher_adapters: str = "frozen"
    dcd_input: str = "map"
    dcd_layer: str = ""
    perceptual_features: str = "teacher_discriminator"
    style_layers: list[str] = field(default_factory=list)
    feature_layer: str = ""
    student_init: str = "scratch"


def check_options(options: DCDOptions) -> None:
    """One ConfigError line for a bad choice among the string options."""
    check_gan_mode(options.gan_mode)
    check_choice("options.discriminator_fakes", options.discriminator_fakes, DISCRIMINATOR_FAKES)
    check_choice("options.teacher_adapters", options.teacher_adapters, TEACHER_ADAPTERS)
    check_choice("options.dcd_input", options.dcd_input, DCD_INPUTS)
    check_choice("options.student_init", options.student_init, STUDENT_INITS)
    if options.perceptual_features not in PERCEPTUAL_FEATURES:
        raise ConfigError(f"options.perceptual_features must be teacher_discriminator (the "
                          f"stated substitute for DCD's ImageNet VGG16, whose weights cannot be "
                          f"had here), got {options.perceptual_features!r}")


@METHODS.register("dcd")
class DCD(StatelessMethod):
    """Distil ``teacher`` into ``student`` with ``discriminator`` as the co-trained teacher
    discriminator D_T; the family's constructor ``Method(teacher, student, adversary,
    options, data, setup)``."""

    Options = DCDOptions
    init_student = staticmethod(init_student)

    def __init__(self, teacher: nn.Module, student: nn.Module, discriminator: nn.Module,
                 options: DCDOptions, data: TranslationData, setup: GANSetup) -> None:
        inputs, targets, paired = data.inputs, data.targets, data.paired
        data.check_size(setup.batch_size)
        check_options(options)
        self.options = options
        self.teacher = teacher.eval().requires_grad_(False)
        self.student, self.discriminator = student, discriminator
        self.inputs, self.targets, self.paired = inputs, targets, paired
        self.device = setup.device
        self.order, self.target_order = data.orders(setup.batch_size, setup.seed)
        self.weights = {"gan": options.gan_weight, "style": options.style_weight,
                        "feature": options.feature_weight, "dcd": options.distill_weight}

        activations = activation_layers(discriminator)
        self.style_layers = check_layers(discriminator, "options.style_layers",
                                         list(options.style_layers) or activations)
        self.feature_layer = check_layers(
            discriminator, "options.feature_layer",
            [options.feature_layer or activations[min(1, len(activations) - 1)]])[0]
        self.dcd_layer = check_layers(discriminator, "options.dcd_layer",
                                      [options.dcd_layer or activations[-1]])[0]
        self.layers = list(options.distill_layers) if options.distill_weight > 0 else []
        probe = inputs[:2].to(self.device)
        channels = input_channels(discriminator)
        self.student_adapters, self.teacher_adapters, map_size = generator_adapters(
            teacher, student, self.layers, probe, channels)
        self.teach_adapters = options.teacher_adapters == "trained"
        self.dcd_size = tuple(probe.shape[2:]) if options.dcd_input == "image" else None
        if self.layers:
            check_discriminator_takes(
                discriminator, self.dcd_layer, channels, self.dcd_size or map_size,
                "set options.dcd_input=image to resize the adapted maps to the images' size")

    def parts(self) -> dict[str, nn.ModuleDict]:
        """The adapters train with the student (saved as its ``aux``); D_T is the adversary."""
        return {"student": nn.ModuleDict({"student_adapters": self.student_adapters,
                                          "teacher_adapters": self.teacher_adapters})}

    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and (paired) their targets, or (unpaired) an independent batch of reals."""
        return (take(self.inputs, self.order.indices(iteration), iteration).to(self.device),
                take(self.targets, self.target_order.indices(iteration), iteration).to(self.device))

    def condition(self, x: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """D_T's input: (x, image) for paired data (a conditional PatchGAN), else the image."""
        return torch.cat([x, image], 1) if self.paired else image

    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """D_T's step: real target images against the teacher's (and/or student's) outputs."""
        x, real = self.batch(iteration)
        with torch.no_grad():
            fakes = []
            if self.options.discriminator_fakes in ("teacher", "both"):
                fakes.append(self.teacher(x))
            if self.options.discriminator_fakes in ("student", "both"):
                fakes.append(self.student(x))
        xs = torch.cat([x] * len(fakes))
        return discriminator_loss(self.discriminator, self.condition(x, real),
                                  self.condition(xs, torch.cat(fakes)), self.options.gan_mode)

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """Eq. (1): GAN + style + feature (in D_T's features) + DCD; no target is used."""
        x = take(self.inputs, self.order.indices(iteration), iteration).to(self.device)
        with PairRecorder(self.teacher, self.student, [(n, n) for n in self.layers]) as rec:
            with torch.no_grad():
                teacher_out = self.teacher(x)
            fake = self.student(x)
        perceptual = self.style_layers + [self.feature_layer]
        logits, s_feats = discriminator_features(self.discriminator, self.condition(x, fake),
                                                 perceptual)
        with torch.no_grad():
            _, t_feats = discriminator_features(self.discriminator,
                                                self.condition(x, teacher_out), perceptual)
        n = len(self.style_layers)
        terms = {"gan": gan_loss(logits, True, self.options.gan_mode, for_discriminator=False),
                 "style": style_loss(s_feats[:n], t_feats[:n]),
                 "feature": feature_loss(s_feats[n:], t_feats[n:])}
        if self.layers:
            terms["dcd"] = dcd_loss(self.discriminator, self.dcd_layer, rec.student_maps,
                                    rec.teacher_maps, self.student_adapters,
                                    self.teacher_adapters, self.dcd_size, self.teach_adapters)
        total = sum(self.weights[k] * v for k, v in terms.items())
        return {"loss": total, **terms}

    @torch.no_grad()
    def log_media(self, logger: RunLogger, iteration: int) -> None:
        """Rows: inputs, the teacher's outputs, the student's (the first training inputs)."""
        x = self.inputs[:GRID]
        rows = [x, generate(self.teacher, x, self.device), generate(self.student, x, self.device)]
        logger.image_grid("samples/input_teacher_student", torch.cat(rows), iteration, nrow=GRID)

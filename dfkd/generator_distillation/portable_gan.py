"""Chen et al., "Distilling portable Generative Adversarial Networks for Image Translation"
(AAAI 2020, arXiv 2003.03519; the survey's ref. [72]) on the shared adversarial loop.

Family: the *joint G+D distillation* branch of the taxonomy (DESIGN.md: D_S is the
adversary, G_S the student, G_T and D_T frozen). It is registered with the generator-
distillation tool (``tools/compress_gan.py``) because that tool already reads pix2pix and
CycleGAN teachers, their ``latest_net_D*.pth`` files and the aligned/unaligned dataset
folders; ``tools/distill_gan.py``'s ``generic_joint`` is the survey's generic form (its
eq. 8) on an unconditional DCGAN, not this paper's setting.

What the paper does (x an input image, y a real image of the target domain; paired
tasks feed the discriminators (x, image) pairs, as pix2pix does):

* the student generator G_S learns the frozen teacher G_T's mapping,
  L_G = λ_gan·L_GAN(G_S; D_S) + β₁·‖G_T(x) − G_S(x)‖₁ + γ_f·L_fea + γ_s·L_style,
  where the perceptual terms are measured in the feature space of the teacher's
  discriminator D_T (frozen): L_fea = Σ_j ‖D_T^j(G_T(x)) − D_T^j(G_S(x))‖ (content) and
  L_style = Σ_j ‖Gram(D_T^j(G_T(x))) − Gram(D_T^j(G_S(x)))‖ over the layers j;
* a student discriminator D_S judges the student's images against real ones and against
  the teacher's (the teacher's image counts as real), and learns a metric with the triplet
  loss (real anchor, teacher positive, student negative)
  L_tri = [‖D̂_S(y) − D̂_S(G_T(x))‖₁ − ‖D̂_S(y) − D̂_S(G_S(x))‖₁ + α]₊,
  L_D = w_real·½[L(D_S(y), 1) + L(D_S(G_S(x)), 0)]
        + w_teacher·½[L(D_S(G_T(x)), 1) + L(D_S(G_S(x)), 0)] + γ_tri·L_tri.

What could be read, and what is reconstructed: through ``search`` only the abstract and
the introduction of the paper were reachable (its method and experiment sections were
not; no official code was found). The abstract confirms the structure: G_S inherits
"low-level and high-level information" from G_T (the L1 and perceptual terms) and a
student discriminator "measures the distances between real images, and images generated
by student and teacher generators" (the triplet term), trained adversarially with G_S.
The terms above follow METHODS.md section 7 (itself marked [unverified]) and the survey
(its eq. 8: L_G = L_adv + α·L_distill^G, L_D = L_adv + μ·L_distill^D).
RECONSTRUCTED, not read: every weight and the margin (defaults: λ_gan 1, β₁ 100 on paired
/ 10 on unpaired tasks, the pix2pix/CycleGAN reconstruction weights; γ_f 10, γ_s 1e4 (set
so that each perceptual term is about a sixth of the weighted L1 term at the start of the
edges2fashion pilot: L1 0.76, L_fea 1.17, L_style 0.0015 there); w_real 1,
w_teacher 1, γ_tri 1, α 1); the D_T layers (the outputs of every LeakyReLU of the PatchGAN,
``perceptual_layers``); the distances of the perceptual terms (the toolkit's shared L1
forms, ``dfkd.losses.translation``; ``perceptual_distance: l2`` gives Johnson et al.'s
mean squared form); D̂_S = the features of D_S's last hidden layer (the input of its
one-channel head; ``triplet_layer: output`` takes the output map, on which the pilot's
triplet stayed 0 from the first logged step: the GAN terms already push the logits of real
and teacher images far from the student's, so a margin of 1 is met at once); whether L_D
also has the ordinary real-vs-student term (kept, ``real_weight``); the GAN loss (the
teacher's own: vanilla for pix2pix, LSGAN for CycleGAN); the student G's start (from
``define_G``'s random weights, not pruned from the teacher as GAN Compression does).

Deviations, and why:

* D_T's file: the family's constructor receives no teacher path, so D_T is a frozen copy
  of the discriminator ``tools/compress_gan.py`` passes in, which under
  ``discriminator_ckpt: auto`` is loaded from the ``latest_net_D*.pth`` beside the teacher
  (``options.teacher_discriminator`` names another file; then ``discriminator_ckpt: ""``
  with ``ndf`` gives a narrower D_S). D_S is then re-initialized N(0, 0.02) (the original
  ``init_weights``, seeded by ``train.seed``; ``student_d_init: teacher`` keeps D_T's
  weights as D_S's start) and has D_T's width: the paper's D_S width could not be read.
* WGAN-GP is refused: the loss of D_S here has no place for a gradient penalty
  (vanilla, lsgan and hinge are taken);
* the loop steps D_S first and then G_S on a fresh forward of the same batch (the paper's
  order of updates could not be read).

Batches are a function of (seed, iteration) and the frozen D_T is rebuilt identically on
``--resume``, so resuming is exact.
"""
from __future__ import annotations

import copy
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.config import check_choice
from dfkd.core.errors import ConfigError
from dfkd.engine.logger import RunLogger
from dfkd.engine.loop import StatelessMethod
from dfkd.gan.evaluation import GRID, generate
from dfkd.gan.setup import GANSetup, TranslationData, take
from dfkd.generator_distillation.registry import METHODS
from dfkd.losses.gan import check_gan_mode, gan_loss
from dfkd.losses.translation import (
    feature_loss,
    gram_matrix,
    style_loss,
    triplet_discriminator_loss,
)
from dfkd.nets.hooks import FeatureRecorder
from generators.gan_checkpoint import load_discriminator_state
from generators.pix2pix import init_weights

D_INITS = ("scratch", "teacher")
DISTANCES = ("l1", "l2")


@dataclass(frozen=True)
class PortableGANOptions:
    """The weights of L_G and L_D above (all reconstructed, see the module docstring).

    ``perceptual_layers``: modules of D_T whose outputs the perceptual terms compare
    (empty: every LeakyReLU). ``triplet_layer``: the module of D_S whose output is D̂_S
    (empty: its last LeakyReLU, the embedding before the one-channel head; ``output``: the
    output map). ``teacher_discriminator``: a ``latest_net_D*.pth`` for D_T
    (empty: a frozen copy of the discriminator passed in). ``student_d_init``: ``scratch``
    (re-initialized N(0, 0.02)) or ``teacher`` (D_S starts as D_T)."""

    # read by train.compress_run, which serves GAN Compression's intermediate-layer terms;
    # Chen et al. have none (class constants, not options)
    distill_layers: ClassVar[tuple] = ()
    distill_weight: ClassVar[float] = 0.0

    gan_mode: str = "vanilla"
    gan_weight: float = 1.0  # λ_gan
    l1_weight: float = 100.0  # β₁
    feature_weight: float = 10.0  # γ_f
    style_weight: float = 1e4  # γ_s
    perceptual_distance: str = "l1"
    perceptual_layers: list[str] = field(default_factory=list)
    real_weight: float = 1.0  # w_real
    teacher_weight: float = 1.0  # w_teacher
    triplet_weight: float = 1.0  # γ_tri
    triplet_margin: float = 1.0  # α
    triplet_layer: str = ""
    teacher_discriminator: str = ""
    student_d_init: str = "scratch"


def perceptual_terms(student_maps: list[torch.Tensor], teacher_maps: list[torch.Tensor],
                     distance: str = "l1") -> tuple[torch.Tensor, torch.Tensor]:
    """(L_fea, L_style) between two lists of feature maps: the shared L1 forms of
    ``dfkd.losses.translation``, or with ``l2`` the mean squared error of the maps and of
    their Gram matrices (Johnson et al. 2016, averaged over elements)."""
    if distance == "l1":
        return feature_loss(student_maps, teacher_maps), style_loss(student_maps, teacher_maps)
    pairs = list(zip(student_maps, teacher_maps))
    return (sum(F.mse_loss(s, t) for s, t in pairs),
            sum(F.mse_loss(gram_matrix(s), gram_matrix(t)) for s, t in pairs))


def check_options(options: PortableGANOptions) -> None:
    """One ConfigError line for a bad choice or a player left without a loss."""
    check_gan_mode(options.gan_mode)
    if options.gan_mode == "wgangp":
        raise ConfigError("method portable_gan: options.gan_mode wgangp is not supported "
                          "(no gradient penalty in this D loss): use vanilla, lsgan or hinge")
    check_choice("method portable_gan: options.student_d_init", options.student_d_init, D_INITS)
    check_choice("method portable_gan: options.perceptual_distance",
                 options.perceptual_distance, DISTANCES)
    if options.real_weight + options.teacher_weight + options.triplet_weight == 0:
        raise ConfigError("method portable_gan: real_weight, teacher_weight and triplet_weight "
                          "are all 0, so the student discriminator has no loss")


def reinit_discriminator(discriminator: nn.Module, seed: int) -> None:
    """The original ``init_weights`` (N(0, 0.02), norms N(1, 0.02)) and fresh BatchNorm
    statistics, drawn from ``seed`` without touching the global random streams."""
    device = next(discriminator.parameters()).device
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        init_weights(discriminator, "normal", 0.02)
    for module in discriminator.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()


def looks_untrained(discriminator: nn.Module) -> bool:
    """True when every BatchNorm of ``discriminator`` has seen no batch: no step counted,
    running means 0 and variances 1 (a fresh PatchGAN, not a teacher's file; files of old
    PyTorch lack the counter, their statistics still tell). Without BatchNorm (instance
    norm) a fresh discriminator cannot be told apart: False."""
    norms = [m for m in discriminator.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    return bool(norms) and all(
        int(m.num_batches_tracked) == 0 and not m.running_mean.any()
        and bool((m.running_var == 1).all()) for m in norms)


def teacher_discriminator(passed: nn.Module, path: str, channels: int,
                          device: torch.device) -> tuple[nn.Module, str]:
    """D_T, frozen in eval mode: loaded from ``path``, or a copy of ``passed``."""
    if path:
        if not Path(path).is_file():
            raise ConfigError(f"method portable_gan: options.teacher_discriminator {path} is "
                              "not a file; give the teacher's latest_net_D*.pth")
        model, info = load_discriminator_state(path, device)
        if info["input_nc"] != channels:
            raise ConfigError(f"method portable_gan: options.teacher_discriminator {path} takes "
                              f"{info['input_nc']} channels, this task needs {channels}")
        source = f"from {path}"
    else:
        if looks_untrained(passed):
            raise ConfigError("method portable_gan: the discriminator passed in is untrained, so "
                              "it cannot serve as the teacher's: set discriminator_ckpt: auto (the "
                              "latest_net_D*.pth beside the teacher) or "
                              "options.teacher_discriminator: PATH")
        model, source = copy.deepcopy(passed), "a copy of the discriminator passed in"
    return model.eval().requires_grad_(False), source


def leaky_relus(model: nn.Module) -> list[str]:
    """The names of ``model``'s LeakyReLU modules (a PatchGAN's hidden feature maps)."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.LeakyReLU)]


def triplet_layer(discriminator: nn.Module, name: str) -> str:
    """The module of D_S whose output is D̂_S: ``""`` its last LeakyReLU (the embedding its
    one-channel head reads), ``output`` none (the output map itself: returns ``""``)."""
    if name == "output":
        return ""
    if not name:
        hidden = leaky_relus(discriminator)
        if not hidden:
            raise ConfigError("method portable_gan: the discriminator has no LeakyReLU to take "
                              "D̂_S from; set options.triplet_layer (a module name, or output)")
        return hidden[-1]
    check_module(discriminator, name, "options.triplet_layer")
    return name


def check_module(model: nn.Module, name: str, what: str) -> None:
    """One ConfigError line when ``model`` has no module ``name``."""
    names = [n for n, _ in model.named_modules() if n]
    if name not in names:
        raise ConfigError(f"method portable_gan: {what} {name!r} is not a module of the "
                          f"discriminator; it has: {', '.join(names[:12])}")


@METHODS.register("portable_gan")
class PortableGAN(StatelessMethod):
    """Chen et al. 2020: distil a pix2pix/CycleGAN teacher (G_T, D_T) into G_S and D_S.

    The family's constructor ``Method(teacher, student, discriminator, options, data,
    setup)``: ``discriminator`` is D_S (the adversary player); D_T is built from it (or
    from ``options.teacher_discriminator``) before D_S is re-initialized.
    """

    Options = PortableGANOptions

    def __init__(self, teacher: nn.Module, student: nn.Module, discriminator: nn.Module,
                 options: PortableGANOptions, data: TranslationData, setup: GANSetup) -> None:
        inputs, targets, paired = data.inputs, data.targets, data.paired
        data.check_size(setup.batch_size)
        check_options(options)
        self.options = options
        self.device = setup.device
        self.teacher = teacher.eval().requires_grad_(False)
        self.student, self.discriminator = student, discriminator
        self.inputs, self.targets, self.paired = inputs, targets, paired
        channels = targets.shape[1] + (inputs.shape[1] if paired else 0)
        self.teacher_d, self.teacher_d_source = teacher_discriminator(
            discriminator, options.teacher_discriminator, channels, setup.device)
        self.perceptual = list(options.perceptual_layers) or leaky_relus(self.teacher_d)
        for name in self.perceptual:
            check_module(self.teacher_d, name, "options.perceptual_layers entry")
        self.triplet_layer = triplet_layer(discriminator, options.triplet_layer)
        if options.student_d_init == "scratch":
            reinit_discriminator(discriminator, setup.seed)
        self.layers = [f"D_T.{name}" for name in self.perceptual]  # printed by compress_run
        self.order, self.target_order = data.orders(setup.batch_size, setup.seed)

    def parts(self) -> dict[str, nn.ModuleDict]:
        """No learnable parts beside G_S and D_S (D_T is frozen, rebuilt on resume)."""
        return {}

    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and (paired) their targets, or (unpaired) an independent batch of reals."""
        return (take(self.inputs, self.order.indices(iteration), iteration).to(self.device),
                take(self.targets, self.target_order.indices(iteration), iteration).to(self.device))

    def condition(self, x: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """What a discriminator sees: (x, image) on paired data, the image alone else."""
        return torch.cat([x, image], 1) if self.paired else image

    def scores(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """D_S's output map and the embedding D̂_S the triplet compares."""
        layer = self.triplet_layer
        with FeatureRecorder(self.discriminator, {"e": layer}) if layer else nullcontext() as rec:
            out = self.discriminator(image)
        return out, (rec["e"] if layer else out)

    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """L_D: real vs student, teacher vs student, and the triplet (real anchor)."""
        o = self.options
        x, y = self.batch(iteration)
        with torch.no_grad():
            teacher_out, student_out = self.teacher(x), self.student(x)
        real, real_e = self.scores(self.condition(x, y))
        taught, taught_e = self.scores(self.condition(x, teacher_out))
        fake, fake_e = self.scores(self.condition(x, student_out))
        fake_term = gan_loss(fake, False, o.gan_mode)
        terms = {"real": 0.5 * (gan_loss(real, True, o.gan_mode) + fake_term),
                 "teacher": 0.5 * (gan_loss(taught, True, o.gan_mode) + fake_term),
                 "triplet": triplet_discriminator_loss(real_e, taught_e, fake_e,
                                                       o.triplet_margin)}
        weights = {"real": o.real_weight, "teacher": o.teacher_weight,
                   "triplet": o.triplet_weight}
        return {"loss": sum(weights[k] * v for k, v in terms.items()), **terms}

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """L_G: adversarial against D_S, L1 to G_T(x), perceptual terms in D_T's features."""
        o = self.options
        x, _ = self.batch(iteration)
        layers = {name: name for name in self.perceptual}
        with torch.no_grad():
            teacher_out = self.teacher(x)
            with FeatureRecorder(self.teacher_d, layers) as rec:
                self.teacher_d(self.condition(x, teacher_out))
            teacher_maps = [rec[n] for n in self.perceptual]
        fake = self.student(x)
        with FeatureRecorder(self.teacher_d, layers) as rec:
            self.teacher_d(self.condition(x, fake))
        feature, style = perceptual_terms([rec[n] for n in self.perceptual], teacher_maps,
                                          o.perceptual_distance)
        terms = {"gan": gan_loss(self.discriminator(self.condition(x, fake)), True, o.gan_mode,
                                 for_discriminator=False),
                 "l1": F.l1_loss(fake, teacher_out), "feature": feature, "style": style}
        weights = {"gan": o.gan_weight, "l1": o.l1_weight, "feature": o.feature_weight,
                   "style": o.style_weight}
        return {"loss": sum(weights[k] * v for k, v in terms.items()), **terms}

    @torch.no_grad()
    def log_media(self, logger: RunLogger, iteration: int) -> None:
        """Rows: inputs, the teacher's outputs, the student's (the first training inputs)."""
        x = self.inputs[:GRID]
        rows = [x, generate(self.teacher, x, self.device), generate(self.student, x, self.device)]
        logger.image_grid("samples/input_teacher_student", torch.cat(rows), iteration, nrow=GRID)

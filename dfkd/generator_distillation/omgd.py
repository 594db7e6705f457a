"""OMGD: Online Multi-Granularity Distillation (Ren, Wu, Xiao, Yang, ICCV 2021,
arXiv 2108.06908) on the shared adversarial loop.

Read: the abstract and introduction (the method section of the paper was not reachable
here), and the official code in full (``bytedance/OMGD``: ``distillers/
{base_,}multiteacher_distiller.py``, ``distillers/{base_,}cycleganbest_distiller.py``,
``models/modules/{discriminators,loss,pytorch_ssim}.py``,
``models/modules/resnet_architecture/mobile_resnet_deepest_generator.py``,
``utils/vgg{,_feature}.py``, ``options/*.py``, ``scripts/resnet_pix2pix/edges2shoes/
distill.sh``, ``scripts/cycle_gan/horse2zebra/distill.sh``). The equation numbers below
are as recalled from the paper [unverified]; the formulas are the code's.

pix2pix (paired) variant: a wide teacher G_T^W (the teacher file's ResNet, ngf 64) and a
deep teacher G_T^D (ngf 16 with expansion blocks, :mod:`.omgd_teachers`) are trained
online, from scratch, each as a pix2pix generator against one shared two-head PatchGAN
D (Eq. 1): L(G_T) = λ_gan·L_GAN(G_T, D) + λ_recon·‖G_T(x) − y‖₁, hinge, λ_recon 100;
D's loss is Σ_teachers ½[L(D(x, y), real) + L(D(x, G_T(x)), fake)]. The student G_S has
no discriminator and never sees y: for each teacher T ∈ {W, D} (Eqs. 2–6)

    L_KD(T) = λ_ssim·(1 − SSIM(G_S(x), T(x))) + λ_style·Σ_l ‖Gram(φ_l(G_S)) − Gram(φ_l(T))‖₁
              + λ_feat·‖φ_2(G_S) − φ_2(T)‖₁ + λ_tv·TV(G_S(x))

with φ the perceptual network (VGG16 relu1_2/2_2/3_3/4_3; Gram/(C·H·W); λ 10, 1e4, 10,
1e-5; the TV term, a sum, is added once per teacher as the code does), plus channel
distillation from the wide teacher (Eq. 7): λ_CD·Σ_l mean_{n,c}(GAP(A_l(s_l)) − GAP(t_l))²
at ``model.9/12/15/18``, A_l = Conv1×1(no bias)+BN+ReLU from student to teacher channels
(trained with the student; N(0, 0.02) init as the code's ``init_net`` leaves it),
λ_CD 100. Total (Eq. 8): L(G_S) = L_KD(W) + L_KD(D) + λ_CD·L_CD.

CycleGAN (unpaired) variant (``cycleganbest``): one online CycleGAN teacher (G_A, the wide
teacher, with G_B, D_A, D_B; cycle λ 10, identity 0.5, 50-image pools) trained with the
shared :class:`dfkd.gan.cyclegan.CycleGAN` losses; the student learns L_KD(G_A)
+ λ_CD·L_CD from G_A, λ_CD 500; the code gives the student 4 epochs per teacher epoch
(``--n_dis 4``): here ``student.steps: 4`` with ``student_batches: own`` (each student
step its own batch).

How this maps onto the loop's players (nothing in ``train.py`` changes): the *adversary*
player is the online teacher GAN — the shared discriminator **and the teachers it
judges**. The method registers the teachers (and the deep teacher's D head, or CycleGAN's
G_B and D_B) as the submodule ``omgd_online`` of the discriminator module it receives,
before the loop builds that player's optimizer; ``adversary_loss`` returns D's loss plus
the teachers' loss, the latter computed with D's weights frozen and D's loss on detached
fakes, so one backward gives each network exactly its own gradient, and one Adam step
over all of them equals the code's separate Adam steps (same lr 2e-4, β (0.5, 0.999),
same linear schedule; Adam is per parameter). Their weights and Adam moments are thus in
the loop's checkpoint and ``--resume`` is exact. The *student* player is G_S with the
connectors A_l. The teachers' outputs and activations of the adversary phase (before
their update) are kept for the student phase of the same iteration, as the code's
single forward does.

Deviations, and why:

* teachers: the plain pix2pix ResNet of this toolkit (official: separable-conv "mobile"
  ResNets), the deep teacher's inner residual blocks plain too (:mod:`.omgd_teachers`);
* ``teacher_init: checkpoint`` (the code's ``--restore_teacher_G_w_path``) starts the
  wide teacher from the given teacher file; the default ``scratch`` (the paper's online
  setting, the scripts' choice) only takes its architecture from it. The given teacher
  stays frozen as the reference that ``psnr_teacher``/``ssim_teacher`` compare against;
* perceptual network: VGG16 only from a user-supplied weights file (``vgg_weights``);
  without one (nothing can be downloaded here) the stated substitute, the shared
  discriminator's LeakyReLU maps (:mod:`dfkd.gan.perceptual`), taken in eval mode;
* SSIM: kornia's Gaussian SSIM (σ 1.5, window 11) on the raw [−1, 1] outputs with
  C1 = 0.01², C2 = 0.03², as the code's ``pytorch_ssim`` (which pads with zeros; kornia
  reflects at the border);
* the code's CycleGAN generator term calls the hinge loss with the discriminator's
  default, max(0, 1 − D(G(a))); the shared CycleGAN losses use −D(G(a));
* a one-channel image is repeated to three channels for VGG16.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.config import check_choice
from dfkd.core.errors import ConfigError
from dfkd.data.epoch_order import EpochOrder
from dfkd.engine.logger import RunLogger
from dfkd.gan.cyclegan import CycleGAN, CycleGANOptions
from dfkd.gan.evaluation import GRID, generate
from dfkd.gan.perceptual import build_perceptual
from dfkd.gan.setup import GANSetup, TranslationData, take
from dfkd.generator_distillation.omgd_teachers import build_deep_teacher, deep_head, judge_deep
from dfkd.generator_distillation.registry import METHODS
from dfkd.losses.gan import check_gan_mode, discriminator_loss, gan_loss
from dfkd.losses.translation import feature_loss, ssim_loss, style_loss, total_variation_loss
from dfkd.nets.hooks import FeatureRecorder
from generators.gan_checkpoint import infer_pix2pix_config, load_discriminator_state
from generators.pix2pix import define_D, define_G, init_weights

VARIANTS = ("auto", "pix2pix", "cyclegan")
TEACHER_INITS = ("scratch", "checkpoint")
STUDENT_BATCHES = ("shared", "own")


@dataclass(frozen=True)
class OMGDOptions:
    """The official defaults (``multiteacher`` distiller, edges2shoes-r script): hinge,
    λ_gan 1, λ_recon 100 for the teachers; ``AGD_weights`` 10, 1e4, 10, 1e-5 (SSIM, style,
    feature, TV); λ_CD 100 (``distill_weight``; the horse2zebra script: 500); deep
    teacher ngf 16. ``variant``: ``auto`` = pix2pix on paired data, cyclegan on unpaired.
    CycleGAN teacher: ``lambda_A``/``lambda_B`` 10, ``lambda_identity`` 0.5, pools of 50.
    ``perceptual``: ``discriminator`` (substitute) or ``vgg16`` (``vgg_weights`` file).
    ``student_batches``: ``shared`` (the teachers' batch of the iteration) or ``own``."""

    variant: str = "auto"
    teacher_init: str = "scratch"
    deep_ngf: int = 16
    gan_mode: str = "hinge"
    gan_weight: float = 1.0
    recon_weight: float = 100.0
    lambda_A: float = 10.0
    lambda_B: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    ssim_weight: float = 10.0
    style_weight: float = 1e4
    feature_weight: float = 10.0
    tv_weight: float = 1e-5
    distill_weight: float = 100.0
    distill_layers: list[str] = field(default_factory=list)
    perceptual: str = "discriminator"
    vgg_weights: str = ""
    student_batches: str = "shared"


def connector(student_channels: int, teacher_channels: int) -> nn.Sequential:
    """OMGD's A_l: Conv1×1 (no bias) + BN + ReLU, student → teacher channels, initialized as
    the code's ``init_net`` leaves it (conv N(0, 0.02), BN weight N(1, 0.02), bias 0)."""
    return init_weights(nn.Sequential(
        nn.Conv2d(student_channels, teacher_channels, kernel_size=1, bias=False),
        nn.BatchNorm2d(teacher_channels), nn.ReLU(True)))


def channel_distillation(student_maps: list[torch.Tensor], teacher_maps: list[torch.Tensor],
                         connectors: nn.ModuleList) -> torch.Tensor:
    """Σ_l mean over (batch, channel) of (GAP(A_l(s_l)) − GAP(t_l))² (OMGD Eq. 7, the code's
    ``calc_CD_loss``); the teacher maps are targets (detached)."""
    return sum(F.mse_loss(a(s).mean(dim=(2, 3)), t.detach().mean(dim=(2, 3)))
               for a, s, t in zip(connectors, student_maps, teacher_maps))


def output_distillation(student_out: torch.Tensor, teacher_out: torch.Tensor,
                        student_maps: list[torch.Tensor], teacher_maps: list[torch.Tensor],
                        feature_index: int, weights: dict[str, float]) -> dict[str, torch.Tensor]:
    """OMGD's L_KD for one teacher (Eqs. 2–6), weighted: SSIM, style (Gram, every map),
    feature (map ``feature_index``), TV (a sum over the student's image)."""
    return {"ssim": weights["ssim"] * ssim_loss(student_out, teacher_out, data_range=1.0, low=0.0),
            "style": weights["style"] * style_loss(student_maps, teacher_maps),
            "feature": weights["feature"] * feature_loss([student_maps[feature_index]],
                                                         [teacher_maps[feature_index]]),
            "tv": weights["tv"] * total_variation_loss(student_out)}


@contextmanager
def frozen(params: list[nn.Parameter]) -> Iterator[None]:
    """``params`` take no gradient inside the block (their flags are restored after)."""
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)


def check_options(options: OMGDOptions) -> None:
    """One ConfigError line for a bad choice among the string options."""
    check_gan_mode(options.gan_mode)
    check_choice("options.variant", options.variant, VARIANTS)
    check_choice("options.teacher_init", options.teacher_init, TEACHER_INITS)
    check_choice("options.student_batches", options.student_batches, STUDENT_BATCHES)
    if options.deep_ngf < 1:
        raise ConfigError(f"options.deep_ngf must be >= 1, got {options.deep_ngf}")


@METHODS.register("omgd")
class OMGD:
    """Online teachers + shared D (the adversary player), discriminator-free student."""

    Options = OMGDOptions

    def __init__(self, teacher: nn.Module, student: nn.Module, discriminator: nn.Module,
                 options: OMGDOptions, data: TranslationData, setup: GANSetup) -> None:
        check_options(options)
        inputs, targets, paired = data.inputs, data.targets, data.paired
        data.check_size(setup.batch_size)
        batch_size, device = setup.batch_size, setup.device
        variant = options.variant if options.variant != "auto" else (
            "pix2pix" if paired else "cyclegan")
        if variant == "pix2pix" and not paired:
            raise ConfigError("options.variant=pix2pix trains its teachers on pairs; this task "
                              "is unpaired: use cyclegan (or auto)")
        if variant == "cyclegan" and options.teacher_init == "checkpoint":
            raise ConfigError("the CycleGAN variant trains its CycleGAN teacher online from "
                              "scratch, as the official code: set options.teacher_init: scratch")
        self.options, self.variant, self.paired = options, variant, paired
        self.reference = teacher.eval().requires_grad_(False)  # the given teacher: a yardstick
        self.student, self.discriminator = student, discriminator
        self.inputs, self.targets, self.device = inputs, targets, device
        self.order, self.target_order = data.orders(batch_size, setup.seed)
        self.student_order = EpochOrder(len(inputs), batch_size, setup.seed + 2)
        self.draws = 0  # student batches drawn (student_batches: own)
        self.layers = list(options.distill_layers) if options.distill_weight > 0 else []
        self.weights = {"ssim": options.ssim_weight, "style": options.style_weight,
                        "feature": options.feature_weight, "tv": options.tv_weight}
        info = infer_pix2pix_config(teacher.state_dict(), "the teacher")
        wide = copy.deepcopy(teacher).train().requires_grad_(True)
        if options.teacher_init == "scratch":
            init_weights(wide)
        self.wide = wide
        if variant == "pix2pix":
            self.deep = build_deep_teacher(info, options.deep_ngf).to(device)
            self.deep_head = deep_head(discriminator).to(device)
            online = {"wide_teacher": wide, "deep_teacher": self.deep, "deep_head": self.deep_head}
            self.teachers = [wide, self.deep]
        else:
            online = self._cyclegan_teacher(info, data, setup)
            self.teachers = [wide]
        # the online teacher GAN joins the adversary player (see the module docstring)
        discriminator.add_module("omgd_online", nn.ModuleDict(online))
        generators = {id(p) for g in self.teacher_generators() for p in g.parameters()}
        self.judge_params = [p for p in discriminator.parameters() if id(p) not in generators]
        self.perceptual = build_perceptual(options.perceptual, options.vgg_weights,
                                           discriminator, paired and variant == "pix2pix", device)
        self.connectors = self._connectors(student, inputs[:2].to(device))
        self._cache: tuple | None = None

    # -- construction ----------------------------------------------------------------------
    def _cyclegan_teacher(self, info: dict, data: TranslationData, setup: GANSetup) -> dict:
        """G_B (B → A) and D_B beside G_A (the wide teacher) and D_A (the discriminator),
        all fresh, trained with the shared CycleGAN losses."""
        g_b = define_G(info["netG"], info["output_nc"], info["input_nc"], info["ngf"],
                       info["norm"]).to(self.device)
        d_info = load_discriminator_state(self.discriminator.state_dict())[1]
        d_b = define_D("n_layers", info["input_nc"], d_info["ndf"], d_info["n_layers_D"],
                       d_info["norm"]).to(self.device)
        opts = self.options
        self.cyclegan = CycleGAN(None, nn.ModuleDict({"G_A": self.wide, "G_B": g_b}),
                                 nn.ModuleDict({"D_A": self.discriminator, "D_B": d_b}),
                                 CycleGANOptions(opts.gan_mode, opts.lambda_A, opts.lambda_B,
                                                 opts.lambda_identity, opts.pool_size),
                                 data, setup)
        return {"G_A": self.wide, "G_B": g_b, "D_B": d_b}

    def _connectors(self, student: nn.Module, probe: torch.Tensor) -> nn.ModuleList:
        """One A_l per distilled layer, sized by a probe through the student and G_T^W."""
        layers = {n: n for n in self.layers}
        with torch.no_grad(), FeatureRecorder(self.wide, layers) as t_rec, \
                FeatureRecorder(student, layers) as s_rec:
            modes = [(m, m.training) for m in (self.wide, student)]
            self.wide.eval(), student.eval()
            self.wide(probe), student(probe)
            for module, mode in modes:
                module.train(mode)
        out = nn.ModuleList()
        for name in self.layers:
            s, t = s_rec[name], t_rec[name]
            if s.dim() != 4 or s.shape[2:] != t.shape[2:]:
                raise ConfigError(f"distill layer {name}: student map {tuple(s.shape[1:])} and "
                                  f"teacher map {tuple(t.shape[1:])} differ in resolution")
            out.append(connector(s.shape[1], t.shape[1]))
        return out.to(probe.device)

    def teacher_generators(self) -> list[nn.Module]:
        """The online generators (pix2pix: G_T^W, G_T^D; CycleGAN: G_A, G_B)."""
        if self.variant == "pix2pix":
            return [self.wide, self.deep]
        return [self.cyclegan.G_A, self.cyclegan.G_B]

    def parts(self) -> dict[str, nn.ModuleDict]:
        """The connectors A_l train with the student (its ``aux.connectors``)."""
        return {"student": nn.ModuleDict({"connectors": self.connectors})}

    # -- data --------------------------------------------------------------------------------
    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and (paired) their targets, or (unpaired) an independent batch of reals."""
        return (take(self.inputs, self.order.indices(iteration), iteration).to(self.device),
                take(self.targets, self.target_order.indices(iteration), iteration).to(self.device))

    def _judge_wide(self, x: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.discriminator(torch.cat([x, image], 1))

    def _judge_deep(self, x: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return judge_deep(self.discriminator, self.deep_head, torch.cat([x, image], 1))

    # -- the adversary player: shared D and the online teachers ------------------------------
    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        if self.variant == "cyclegan":
            d = self.cyclegan.adversary_loss(iteration)
            with frozen(self.judge_params):
                g = self.cyclegan.student_loss(iteration)
            return {"loss": d["loss"] + g["loss"], "D": d["loss"],
                    **{f"teacher_{k}": v for k, v in g.items() if k != "loss"}}
        x, y = self.batch(iteration)
        with FeatureRecorder(self.wide, {n: n for n in self.layers}) as rec:
            fake_w = self.wide(x)
        fake_d = self.deep(x)
        opts, mode = self.options, self.options.gan_mode
        real = torch.cat([x, y], 1)
        d_w = discriminator_loss(self.discriminator, real, torch.cat([x, fake_w.detach()], 1), mode)
        d_d = discriminator_loss(lambda t: judge_deep(self.discriminator, self.deep_head, t),
                                 real, torch.cat([x, fake_d.detach()], 1), mode)
        with frozen(self.judge_params):  # the teachers' terms fill no gradient of D
            gan_w = gan_loss(self._judge_wide(x, fake_w), True, mode, for_discriminator=False)
            gan_d = gan_loss(self._judge_deep(x, fake_d), True, mode, for_discriminator=False)
        terms = {"D_w": d_w["loss"], "D_d": d_d["loss"],
                 "gan_w": opts.gan_weight * gan_w, "recon_w": opts.recon_weight * F.l1_loss(fake_w, y),
                 "gan_d": opts.gan_weight * gan_d, "recon_d": opts.recon_weight * F.l1_loss(fake_d, y)}
        self._cache = (iteration, x, [fake_w.detach(), fake_d.detach()],
                       [rec[n].detach() for n in self.layers])
        return {"loss": sum(terms.values()), **terms}

    # -- the student: no discriminator, no ground truth --------------------------------------
    def _teacher_side(self, iteration: int) -> tuple[torch.Tensor, list[torch.Tensor],
                                                     list[torch.Tensor]]:
        """Inputs, the teachers' outputs and G_T^W's maps for this student step: those of
        the adversary phase of this iteration (before the teachers' update, as the code's
        one forward) when the student shares its batch; else a fresh forward."""
        if self.options.student_batches == "shared":
            if self._cache is not None and self._cache[0] == iteration:
                return self._cache[1:]
            x = self.batch(iteration)[0]
        else:
            x = take(self.inputs, self.student_order.indices(self.draws), self.draws)
            x = x.to(self.device)
            self.draws += 1
        with torch.no_grad(), FeatureRecorder(self.wide, {n: n for n in self.layers}) as rec:
            outputs = [t(x) for t in self.teachers]
        return x, outputs, [rec[n] for n in self.layers]

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        x, outputs, teacher_maps = self._teacher_side(iteration)
        with FeatureRecorder(self.student, {n: n for n in self.layers}) as rec:
            fake = self.student(x)
        student_feats = self.perceptual(fake, x)
        names = ["w", "d"] if self.variant == "pix2pix" else ["t"]
        terms: dict[str, torch.Tensor] = {}
        for name, target in zip(names, outputs):
            with torch.no_grad():
                teacher_feats = self.perceptual(target, x)
            kd = output_distillation(fake, target, student_feats, teacher_feats,
                                     self.perceptual.feature_index, self.weights)
            terms.update({f"{k}_{name}": v for k, v in kd.items()})
        if self.layers:
            terms["cd"] = self.options.distill_weight * channel_distillation(
                [rec[n] for n in self.layers], teacher_maps, self.connectors)
        return {"loss": sum(terms.values()), **terms}

    # -- checkpoint and media ------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The student's batch counter and (CycleGAN) the image pools; every weight and
        optimizer state is a player's."""
        state: dict = {"draws": self.draws}
        if self.variant == "cyclegan":
            state["cyclegan"] = self.cyclegan.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.draws = int(state["draws"])
        if self.variant == "cyclegan":
            self.cyclegan.load_state_dict(state["cyclegan"])
        self._cache = None

    @torch.no_grad()
    def log_media(self, logger: RunLogger, iteration: int) -> None:
        """Rows: inputs, each online teacher's outputs, the student's."""
        x = self.inputs[:GRID]
        rows = [x, *(generate(t, x, self.device) for t in self.teachers),
                generate(self.student, x, self.device)]
        logger.image_grid("samples/input_teachers_student", torch.cat(rows), iteration, nrow=GRID)

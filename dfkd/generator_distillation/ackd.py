"""ACKD: accumulation knowledge distillation for conditional GAN compression (Gao & Long,
ICCV Workshops 2023, pp. 1294–1303; survey [73]) on the shared adversarial loop.

RECONSTRUCTED, NOT THE PAPER'S METHOD AS WRITTEN. Neither the paper's text nor any code of
it could be reached (``search`` over pages/code/docs with the title, the authors' names,
"ACKD" and paraphrases of the idea found only bibliography entries: Tingwei Gao, Rujiao
Long, Alibaba Group, doi 10.1109/ICCVW60793.2023.00140). All that was read is the survey
(seed 000, section 3), in substance: to improve the transfer of knowledge from the teacher
generator to the student generator, and to fix the problem that in earlier methods a layer
of the student generator receives knowledge only from the teacher layer of the same depth
stage, [73] proposes accumulation knowledge distillation (ACKD) for cGANs, which fully
explores the dark knowledge embedded in the teacher generator's intermediate layers. No
equation, layer choice, weighting, loss weight or schedule of the paper is known.

What is built from that sentence (equations numbered here, A1–A3, not the paper's):
each distilled student layer l (``model.9/12/15/18`` of the 9-block ResNet: the block
input and the outputs of blocks 3, 6, 9) learns from an accumulation of *all* teacher
layers up to and including its depth, not from teacher layer l alone
(:mod:`dfkd.generator_distillation.ackd_losses`):

    target_l = Σ_{j ≤ l} α_{l,j}·P_{l,j}(t_j),   α_l = softmax_j(κ·w_l)                 (A1)
    L_ACKD   = Σ_l mean‖f_l(s_l) − target_l‖²                                          (A2)

and the student generator's objective is GAN Compression's (Li et al. 2020, Eq. 4) with
its distillation term (Eq. 3) replaced by (A2):

    L = λ_gan·L_GAN(G_S, D) + λ_recon·L_recon + λ_distill·L_ACKD                        (A3)

(L_recon: L1 to the target on paired data, to the teacher's output on unpaired data; D the
adversary, as :mod:`dfkd.generator_distillation.gan_compression` has them). Why this shape:

* "accumulation" along depth, "several teacher layers" per student layer, and "a layer
  receiving only the same depth stage" as the fault to fix say that a student layer's target
  mixes the teacher layers up to its depth; the prefix j ≤ l (not the deeper ones) is the
  reading of "accumulated";
* the mixture is learned (``options.accumulation: learned``, w_l zero at the start, i.e. a
  uniform average; the modes ``uniform`` and ``same_depth`` fix it, the last being GAN
  Compression's Eq. 3 exactly, as an ablation);
* the student side is GAN Compression's learnable 1×1 map f_l (N(0, 0.02), zero bias) and
  MSE averaged over elements; the teacher side is never trained: in the ResNet generators
  all distilled layers have 4·ngf_T channels at one resolution and enter the sum as they
  are; where they do not (named layers of other generators) P_{l,j} resizes them and maps
  channels by a FIXED random semi-orthogonal 1×1 projection. A trained teacher-side map
  could shrink the target to zero together with f_l and teach nothing (the reason DCD's
  helper froze its teacher adapters); the softmax keeps α a convex combination.

Deviations from what a reader might expect, and why:

* ``logit_scale`` κ = 10: the logits train with the student's Adam (lr 2e-4), which moves
  each parameter by about lr per step; unscaled, 3000 iterations could move a logit by at
  most ~0.6 and α would stay near uniform. κ makes them move κ times faster (an invention
  of this reconstruction, as is everything above);
* the rest is GAN Compression's official distillation stage as this toolkit has it: the
  student pruned from the teacher (L1 channel selection, ``student_init: teacher``), D
  from the teacher's discriminator, hinge for pix2pix (λ_recon 100, λ_distill 1), LSGAN for
  CycleGAN (λ_recon 10 to the teacher's output, λ_distill 0.01), and that loop's own
  deviations (plain ResNet teachers, D stepped before G);
* the learned α are trained by the student's loss, so they may favour the teacher layers
  the student finds easiest to match; ``uniform`` is the choice free of that.

The mean of α_{l,l} over l ≥ 2 (how much each layer still leans on its own depth) is
logged as ``same_depth_share``. Batches are a function of (seed, iteration) and every
learnable part (f_l, w_l) belongs to the student player, so ``--resume`` is exact.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.gan.setup import GANSetup, TranslationData
from dfkd.generator_distillation.ackd_losses import (
    Accumulation,
    ackd_loss,
    teacher_projections,
)
from dfkd.generator_distillation.gan_compression import GANCompression, GANCompressionOptions
from dfkd.generator_distillation.registry import METHODS


@dataclass(frozen=True)
class ACKDOptions(GANCompressionOptions):
    """GAN Compression's options and defaults (pix2pix: hinge, λ_gan 1, λ_recon 100,
    λ_distill 1 on L_ACKD) plus the reconstructed accumulation: ``accumulation`` (``learned``,
    ``uniform``, ``same_depth``) and ``logit_scale`` κ of the learned weights (> 0)."""

    accumulation: str = "learned"
    logit_scale: float = 10.0


def check_ackd_options(options: ACKDOptions) -> None:
    """One ConfigError line for a bad accumulation option (the rest: GAN Compression's)."""
    Accumulation(0, options.accumulation)  # checks the name
    if not options.logit_scale > 0:
        raise ConfigError(f"options.logit_scale must be > 0, got {options.logit_scale}")


@METHODS.register("ackd")
class ACKD(GANCompression):
    """Distil ``teacher`` into ``student`` against ``discriminator`` on ``data`` with (A3);
    the family's constructor ``Method(teacher, student, adversary, options, data, setup)``."""

    Options = ACKDOptions

    def __init__(self, teacher: nn.Module, student: nn.Module, discriminator: nn.Module,
                 options: ACKDOptions, data: TranslationData, setup: GANSetup) -> None:
        check_ackd_options(options)
        super().__init__(teacher, student, discriminator, options, data, setup)
        self.accumulation = Accumulation(len(self.layers), options.accumulation,
                                         options.logit_scale).to(self.device)
        self.projections = teacher_projections(teacher, self.layers,
                                               data.inputs[:2].to(self.device))

    def parts(self) -> dict[str, nn.ModuleDict]:
        """f_l, the logits w_l and the fixed projections go with the student (its ``aux``)."""
        return {"student": nn.ModuleDict({"mappings": self.mappings,
                                          "accumulation": self.accumulation,
                                          "projections": self.projections})}

    def distill_term(self, student_maps: list[torch.Tensor],
                     teacher_maps: list[torch.Tensor]) -> torch.Tensor:
        """(A2) in place of GAN Compression's Eq. 3; the rest of (A3) is GAN Compression's."""
        return ackd_loss(student_maps, teacher_maps, self.mappings, self.accumulation,
                         self.projections)

    def logged_figures(self) -> dict[str, torch.Tensor]:
        """The mean weight each student layer gives its same-depth teacher layer."""
        if len(self.layers) < 2:
            return {}
        return {"same_depth_share": self.accumulation.matrix().detach().diagonal()[1:].mean()}

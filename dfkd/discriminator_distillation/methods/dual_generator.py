"""Dual-generator data-free KD: Zhang, Ju, Ren, "Double-Generators Network for Data-Free
Knowledge Distillation" (基于双生成器网络的 Data-Free 知识蒸馏), Journal of Computer Research
and Development 60(7):1615-1627, 2023 (survey ref. [65]).

What could be read: the abstract's first sentences (crad.ict.ac.cn, DOI
10.7544/issn1000-1239.202220024: DAFL's "teacher-generator" makes pseudo data for the student)
and the authors' MNIST training script (in `search`'s code index, file id 14456276225; its
repository is not named there). The paper's method section and tables could NOT be read: the
equations below are the script's, written as equations by dfkd.

Two generators of one architecture (DAFL's), trained each iteration (script order):
    G_t, the teacher-generator, DAFL's priors on the teacher (DAFL eq. 6):
        L_Gt = α_oh·CE(T(x_t), argmax T(x_t)) + α_ie·Σ_j p̄ᵀ_j log₁₀ p̄ᵀ_j − α_a·mean|f_T(x_t)|
    the student S on G_s's images, KL at τ = 1 (DAFL eq. 8):  L_S = KL(p_T(x_s) ‖ p_S(x_s))
    G_s, the student-generator, the same priors on the *student*, plus a distribution
    difference to G_t's images (x'_t = G_t(z''), no gradient to G_t):
        L_Gs = α_oh·CE(S(x_s), argmax S(x_s)) + α_ie·Σ_j p̄ˢ_j log₁₀ p̄ˢ_j − α_a·mean|f_S(x_s)|
               + λ_d·D(G_s(z'), x'_t)
    D "kl" (the script's ``klloss``): F.kl_div(log_softmax(x_s, −1), softmax(x_t, −1)) with
    its default element-wise mean, i.e. each image row (last axis) taken as a distribution,
        D = 1/(N·C·H·W) · Σ_rows Σ_w q_w (log q_w − log p_w),  q = softmax(x_t row), p = of x_s;
    "mse" the authors' CIFAR script's form (below). α = DAFL's weights (one set, both sides,
    as the script). The student never sees G_t's images: G_t shapes G_s through D only.

Where the released script is broken, and what dfkd does instead:
- the student's line reads ``net(imgs_detach.())``, a syntax error (the file does not run):
  read as ``net(img_s.detach())``, which its target ``teacher(img_s.detach())`` names;
- ``opt.kl`` (λ_d) is used but never defined, so L_Gs raises: λ_d = 1 [reconstructed], the
  weight the CIFAR script gives its difference term;
- D's target G_t(z'') is not detached there; its gradient reaches G_t's .grad but is cleared
  by G_t's own zero_grad before G_t's next step, so it never moves G_t: detached here (both
  generators share one optimizer in dfkd's loop, where it would).
Deviations for dfkd's loop, and why:
- both generators step together in the generator phase, before the student (the script:
  G_t, then S, then G_s): G_s and G_t are separate parameters in one Adam optimizer and
  the script's rates are equal (0.2), so that equals two optimizers; the images the
  student learns from are still G_s's before G_s's step, as in the script; G_s's priors see
  the student before its step of the iteration (the script: after it), one step older;
- G_s is a copy of the configured generator, re-initialized (parts()["generator"]: in G's
  optimizer and checkpoint); generator.clip_grad clips both together;
- the collapse figures and the forgetting bank use G_s (the student's data); TensorBoard's
  sample grids show both generators (tools/sample.py draws the checkpoint's G, i.e. G_t).
The MNIST script's D does not teach on Fashion-MNIST here: its students stayed at ~10%
(G_s makes images the student is sure of, which the teacher sees as one or two classes);
``configs/dual_generator/fashion_mnist.yaml`` therefore uses the CIFAR script's D (below),
with which the same run learns, and says so with the pilots' figures.
The authors' CIFAR script (code index file id 45261585310: relation KD, an activation term
weighted by ∂L/∂z, G_s adversarial on the relations, D = MSE on shared latents) is a
different method; the CIFAR configs take only its optimization settings, and
``difference_kind: mse`` with ``pairing: shared`` is its D.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.config import check_choice
from dfkd.core.errors import ConfigError
from dfkd.discriminator_distillation.grids import class_grid
from dfkd.discriminator_distillation.methods.base import PER_CLASS, DataFreeMethod
from dfkd.discriminator_distillation.registry import METHODS
from dfkd.engine.logger import RunLogger
from dfkd.losses import activation_loss, class_balance_loss, kd_kl, onehot_loss
from dfkd.nets import head_name
from dfkd.nets.hooks import FeatureRecorder

DIFFERENCES = ("kl", "mse")
PAIRINGS = ("independent", "shared")


@dataclass
class DualGeneratorOptions:
    """The MNIST script's defaults (oh/ie/a as DAFL's MNIST ones, on both generators)."""

    onehot: float = 1.0  # α_oh: CE of the judge (T for G_t, S for G_s) to its own argmax
    balance: float = 5.0  # α_ie: Σ p̄ log₁₀ p̄ of the judge's batch-mean softmax
    activation: float = 0.1  # α_a: −mean |features| at the judge's classifier input
    difference: float = 1.0  # λ_d: D(G_s, G_t) in L_Gs [reconstructed: opt.kl is undefined]
    difference_kind: str = "kl"  # "kl": the MNIST script's row-softmax KL; "mse": CIFAR script
    pairing: str = "independent"  # D's latents: "independent" (MNIST script), "shared" (CIFAR)
    temperature: float = 1.0  # τ of the student's KL to the teacher


def dafl_priors(logits: torch.Tensor, features: torch.Tensor) -> dict[str, torch.Tensor]:
    """DAFL's three generator priors judged by one network (``logits`` and the input of its
    classifier layer, ``features``): one-hot, class balance (log₁₀) and activation."""
    return {"onehot": onehot_loss(logits), "balance": class_balance_loss(logits),
            "activation": activation_loss(features)}


def row_softmax_kl(images: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The MNIST script's ``klloss(img_s, img_t)``: ``F.kl_div(log_softmax(img_s, -1),
    softmax(img_t, -1))`` at its default element-wise mean: each row of an image (last axis)
    is a distribution, KL(q ‖ p) summed over the row, averaged over all N·C·H·W elements."""
    log_p = F.log_softmax(images, dim=-1)
    log_q = F.log_softmax(target, dim=-1)
    return (log_q.exp() * (log_q - log_p)).mean()


def distribution_difference(images: torch.Tensor, target: torch.Tensor,
                            kind: str = "kl") -> torch.Tensor:
    """D between the student-generator's ``images`` and the teacher-generator's ``target``
    (same shape): "kl" as :func:`row_softmax_kl`, "mse" the CIFAR script's mean squared error."""
    if images.shape != target.shape:
        raise ValueError(f"D compares images of one shape, got {tuple(images.shape)} and "
                         f"{tuple(target.shape)}")
    return row_softmax_kl(images, target) if kind == "kl" else F.mse_loss(images, target)


def weighted(terms: dict[str, torch.Tensor], o: DualGeneratorOptions) -> torch.Tensor:
    """α_oh·onehot + α_ie·balance + α_a·activation."""
    return o.onehot * terms["onehot"] + o.balance * terms["balance"] + o.activation * terms[
        "activation"]


def fresh_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` with every layer's parameters (and BN statistics) re-drawn."""
    twin = copy.deepcopy(module)
    for layer in twin.modules():
        if layer is not twin and hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
    return twin


@METHODS.register("dual_generator")
class DualGenerator(DataFreeMethod):
    """DAFL's teacher-generator plus a student-generator (DAFL's priors on the student, drawn
    toward the teacher-generator's images); the student learns from the student-generator."""

    Options = DualGeneratorOptions

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        o = self.options
        check_choice("method dual_generator: options.difference_kind", o.difference_kind,
                     DIFFERENCES)
        check_choice("method dual_generator: options.pairing", o.pairing, PAIRINGS)
        if not any(hasattr(layer, "reset_parameters") for layer in self.generator.modules()
                   if layer is not self.generator):  # e.g. DeepInversion's pixels
            raise ConfigError("method dual_generator trains two generator networks: set "
                              "generator.model to dafl, dfad or zskt")
        self.student_generator = fresh_copy(self.generator)  # G_s; self.generator is G_t
        self._teacher_features = FeatureRecorder(
            self.teacher, {"features": head_name(self.teacher)}, inputs=True)
        self._student_features = FeatureRecorder(
            self.student, {"features": head_name(self.student)}, inputs=True)
        self._pending: tuple[int, torch.Tensor] | None = None  # (iteration, G_s's batch)

    def parts(self) -> dict[str, nn.Module]:
        return {"generator": self.student_generator}

    # -- the generators' step -----------------------------------------------------------------
    def generator_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        o = self.options
        with self._teacher_features as rec:  # G_t: DAFL
            teacher_side = dafl_priors(self.teacher(self.sample()), rec["features"])
        images = self.sample(self.student_generator)  # G_s: the priors on the student
        with self._student_features as rec:
            student_side = dafl_priors(self.student(images), rec["features"])
        self._pending = (iteration, images.detach())  # what the student learns from
        z = torch.randn(self.batch_size, self.nz, device=self.device)
        z_target = z if o.pairing == "shared" else torch.randn_like(z)
        with torch.no_grad():
            target = self.sample(z=z_target)  # G_t's images, no gradient to G_t
        difference = distribution_difference(self.sample(self.student_generator, z=z),
                                             target, o.difference_kind)
        teacher_loss = weighted(teacher_side, o)
        student_loss = weighted(student_side, o) + o.difference * difference
        terms = {f"teacher_{k}": v for k, v in teacher_side.items()}
        terms.update({f"student_{k}": v for k, v in student_side.items()})
        terms.update(difference=difference, teacher_generator=teacher_loss.detach(),
                     student_generator=student_loss.detach(), loss=teacher_loss + student_loss)
        return terms

    # -- the student's data: G_s's batch of the generator step (else a fresh one) ------------
    def generated_batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor, None]:
        if self._batch is None or self._batch[0] != iteration:
            with torch.no_grad():
                if self._pending is not None and self._pending[0] == iteration:
                    images = self._pending[1]
                else:  # no generator step this iteration (generator.steps = 0)
                    images = self.sample(self.student_generator)
                self.keep_batch(iteration, images, self.teacher(images))
            self._pending = None
        return self._batch[1:]

    def distill(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                targets: torch.Tensor) -> dict[str, torch.Tensor]:
        kd = kd_kl(self.student(images), teacher_logits, self.options.temperature)
        return {"loss": kd, "kd": kd}

    # -- measurements and media ---------------------------------------------------------------
    @torch.no_grad()
    def synthesize(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images of G_s (the student's data) for fixed latents, from a copy in training mode."""
        return copy.deepcopy(self.student_generator).train()(z)

    @torch.no_grad()
    def log_media(self, logger: RunLogger, iteration: int) -> None:
        """G_t's grid and histogram (the base's), then G_s's grid by teacher class."""
        super().log_media(logger, iteration)
        generator = copy.deepcopy(self.student_generator).train()
        grid, _, _ = class_grid(generator, self.teacher, self._image_z, self.spec.num_classes,
                                PER_CLASS)
        logger.image_grid("samples/student_generator_by_teacher_class", grid, iteration,
                          nrow=PER_CLASS)

"""Fast-DFKD: "Up to 100× Faster Data-Free Knowledge Distillation" (Fang, Mo, Wang, Song,
Bei, Zhang, Song; AAAI 2022, arXiv 2112.06253).

What was read: the abstract and introduction of the paper (its method section could not be
read here, so equation numbers are not cited) and the official code, zju-vipa/Fast-Datafree
(``datafree/synthesis/fast_meta.py``, ``datafree/hooks.py``, ``datafree_kd.py``,
``scripts/fast_cifar.sh``); every formula below is as that code computes it.

A *meta-generator* θ learns common features from which each batch is synthesized in a few
steps. Per synthesis round (one loop iteration):
1. inner loop: θ′ ← θ, a fresh z ~ N(0, I) and random targets y; k Adam steps (β 0.5/0.999,
   rate lr_G for θ′, lr_z for z; a fresh optimizer each round) on
       L(θ′, z) = λ_bn·L_BN^mmt + λ_oh·CE(T(a(x)), y) + λ_adv·L_adv,   x = G_θ′(z)
   with a(·) a random crop (4 px padding) and flip, and
       L_BN^mmt = Σ_l ‖μ_l^BN − ((1 − m)·μ_l(x) + m·μ̄_l)‖₂ + ‖σ²_l^BN − ((1 − m)·σ²_l(x) + m·σ̄²_l)‖₂
   where μ̄, σ̄² are running averages of earlier rounds' batch statistics
   (``BNStatisticsPrior(teacher, momentum=m)``, updated once per round from the last
   inner step's batch), and L_adv = −(1/N) Σ_i [argmax S = argmax T]·KL(p_T ‖ p_S)
   (``agreement_masked_kl``; off during warm-up; the student in eval mode);
2. outer step on θ: first-order MAML, g = Σ_{i<k} ∇L(θ′_i) (``meta.sum_of_gradients``), or
   Reptile, g = s·(θ − θ′_k) (``options.meta_gradient: reptile``), taken by the loop's
   generator player (its optimizer is the outer Adam: lr k·lr_G, β 0.5/0.999 in the code)
   on the surrogate Σ_p ⟨p, g_p⟩ (``meta.surrogate_loss``), so ``generator.steps: 1``;
3. the round's batch — the inner iterate of lowest L, as the code keeps — joins the memory
   of all synthesized samples (the config's ``replay`` buffer), and the student takes
   ``student.steps`` (400) steps of τ²·KL(p_T^τ ‖ p_S^τ), τ = 20, on random crops/flips of
   memory batches relabelled by the teacher (the config's ``augment``).
During the first ``warmup_rounds`` (20) rounds only synthesis runs: the student's loss is
a constant with no graph to its weights, so no parameter has a gradient and its optimizer
(SGD with momentum and weight decay) leaves every weight and momentum buffer as it is. The
code re-initializes the generator's first layer (``l1.0``, N(0, 0.02)) at round 140
(``--reset_l0 1``): ``reset_round``.

The configs name ``datafree``, the code's ``Generator`` (Sigmoid pixels, then the dataset's
normalization); any registered unconditional generator may stand in.

Deviations, with reasons:
- the student's cosine schedule advances from round 0 (the loop steps schedules every
  iteration) where the code's starts after warm-up: with 220 rounds its first KD round runs
  at 0.98× the initial rate;
- memory batches are drawn uniformly with replacement (the code shuffles a DataLoader) and
  stored as floats (the code writes 8-bit PNGs);
- L_BN^mmt covers every BatchNorm of the teacher, 1-d ones included (LeNet-5-BN's last);
  the code hooks ``nn.BatchNorm2d`` only (the same on its ResNets, which have no other);
- the code turns L_adv on one round before the student's first step (its round counter
  starts at 1); here it starts with the student;
- with ``train.amp`` on CUDA the float16 loss scaler refuses a step without gradients, so
  warm-up rounds there are refused with a clear error (CPU bfloat16 needs no scaler).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import kornia.augmentation as K
import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.config import check_choice
from dfkd.core.errors import ConfigError
from dfkd.core.modes import eval_mode
from dfkd.discriminator_distillation.meta import (
    reptile_gradient,
    sum_of_gradients,
    surrogate_loss,
)
from dfkd.discriminator_distillation.registry import METHODS
from dfkd.discriminator_distillation.synthesis import SynthesisMethod, frozen, teacher_bn_prior
from dfkd.losses import BNStatisticsPrior, kd_kl
from dfkd.losses.agreement import agreement_masked_kl

META_GRADIENTS = ("fomaml", "reptile")
FIRST_LAYER = "l1.0"  # the generator layer the code's reset_l0 re-initializes


@dataclass
class FastDFKDOptions:
    """Fast-10's settings for ResNet-34 → ResNet-18 (scripts/fast_cifar.sh)."""

    inner_steps: int = 10  # k ("Fast-k", --g_steps): 2, 5 or 10
    inner_lr: float = 2e-3  # lr_G of θ′ (Fast-2 5e-3, Fast-5 3e-3, Fast-10 2e-3)
    latent_lr: float = 0.01  # lr_z (Fast-2 0.015, Fast-5/10 0.01)
    adversarial: float = 1.33  # λ_adv
    bn: float = 10.0  # λ_bn
    onehot: float = 0.5  # λ_oh
    bn_momentum: float = 0.9  # m of L_BN^mmt (--bn_mmt)
    warmup_rounds: int = 20  # rounds of synthesis only (--warmup)
    temperature: float = 20.0  # τ of the student's KL (--T)
    meta_gradient: str = "fomaml"  # "fomaml" (--is_maml 1) or "reptile"
    reptile_scale: float = 67.0  # s of Reptile's gradient s·(θ − θ′) (the code's alpha)
    crop_padding: int = 4  # the teacher's view a(x) during synthesis: random crop ...
    flip: float = 0.5  # ... and horizontal flip with this probability
    reset_round: int = 140  # re-initialize l1.0 before this round (1-based); 0: never


@METHODS.register("fast_dfkd")
class FastDFKD(SynthesisMethod):
    """A meta-generator adapted in k steps per round; the student learns from the memory."""

    Options = FastDFKDOptions

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        o = self.options
        check_choice("method fast_dfkd: options.meta_gradient", o.meta_gradient, META_GRADIENTS)
        if self.diversity:
            raise ConfigError("fast_dfkd has its own synthesis loss: set generator.diversity: 0")
        if o.reset_round and not self._first_layers():
            raise ConfigError(f"options.reset_round re-initializes the generator's layer "
                              f"{FIRST_LAYER}, which {type(self.generator).__name__} lacks: set "
                              "options.reset_round: 0")
        self.prior: BNStatisticsPrior | None = None
        if o.bn > 0:
            self.prior = teacher_bn_prior("fast_dfkd", self.teacher, momentum=o.bn_momentum)
        size = self.spec.image_size
        views: list[nn.Module] = []
        if o.crop_padding:
            views.append(K.RandomCrop((size, size), padding=o.crop_padding))
        if o.flip:
            views.append(K.RandomHorizontalFlip(p=o.flip))
        self.views = nn.Sequential(*views)
        self._outer: list[torch.Tensor] | None = None  # g of this round, for the outer step

    def _first_layers(self) -> list[nn.Module]:
        return [m for name, m in self.generator.named_modules()
                if name == FIRST_LAYER or name.endswith("." + FIRST_LAYER)]

    # -- one synthesis round ------------------------------------------------------------
    def synthesize_round(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor,
                                                  dict[str, torch.Tensor]]:
        """k inner steps from a copy of the meta-generator; keeps the outer gradient."""
        if self._outer is not None:
            raise ConfigError("fast_dfkd's meta-generator takes one outer step per round and "
                              "the last round's was not taken: set generator.steps: 1")
        o = self.options
        if o.reset_round and iteration + 1 == o.reset_round:
            with torch.no_grad():
                for layer in self._first_layers():
                    nn.init.normal_(layer.weight, 0.0, 0.02)
                    nn.init.zeros_(layer.bias)
        adversarial = o.adversarial if iteration >= o.warmup_rounds else 0.0
        fast = copy.deepcopy(self.generator).train().requires_grad_(True)
        params = list(fast.parameters())
        z = torch.randn(self.batch_size, self.nz, device=self.device, requires_grad=True)
        targets = torch.randint(self.spec.num_classes, (self.batch_size,), device=self.device)
        optimizer = torch.optim.Adam([{"params": params}, {"params": [z], "lr": o.latent_lr}],
                                     lr=o.inner_lr, betas=(0.5, 0.999))
        outer, best, best_cost, terms = None, None, math.inf, {}
        with eval_mode(self.student), frozen(self.student):
            for _ in range(o.inner_steps):
                images = fast(z)
                terms = self._synthesis_terms(self.views(images), targets, adversarial)
                if terms["loss"].item() < best_cost:  # the code keeps the best inner iterate
                    best_cost, best = terms["loss"].item(), images.detach()
                optimizer.zero_grad(set_to_none=True)
                terms["loss"].backward()
                if o.meta_gradient == "fomaml":
                    step = [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone()
                            for p in params]
                    outer = step if outer is None else sum_of_gradients([outer, step])
                optimizer.step()
        if self.prior is not None:
            self.prior.update_momentum()
        if o.meta_gradient == "reptile":
            outer = reptile_gradient(list(self.generator.parameters()), params, o.reptile_scale)
        self._outer = [g.detach().clone() for g in outer]
        with torch.no_grad():
            teacher_logits = self.teacher(best)
        logged = {k: v.detach() for k, v in terms.items()}
        logged["best_loss"] = torch.tensor(best_cost)
        return best, teacher_logits, logged

    def _synthesis_terms(self, views: torch.Tensor, targets: torch.Tensor,
                         adversarial: float) -> dict[str, torch.Tensor]:
        """λ_bn·L_BN^mmt + λ_oh·CE + λ_adv·L_adv on the teacher's (and student's) views."""
        o = self.options
        if self.prior is not None:
            with self.prior:
                teacher_logits = self.teacher(views)
            terms = {"bn": self.prior.loss()}
        else:
            teacher_logits = self.teacher(views)
            terms = {"bn": teacher_logits.new_zeros(())}
        terms["onehot"] = F.cross_entropy(teacher_logits, targets)
        loss = o.bn * terms["bn"] + o.onehot * terms["onehot"]
        if adversarial:
            terms["adversarial"] = -agreement_masked_kl(self.student(views), teacher_logits)
            loss = loss + adversarial * terms["adversarial"]
        terms["loss"] = loss
        return terms

    # -- the outer step (the generator player, generator.steps: 1) ----------------------
    def generator_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """The surrogate Σ_p ⟨p, g_p⟩: the player's optimizer (outer Adam) steps θ on g."""
        self.begin_iteration(iteration)  # no-op where the loop has synthesized already
        if self._outer is None:
            raise ConfigError("fast_dfkd takes one outer step per synthesis round: set "
                              "generator.steps: 1")
        outer, self._outer = self._outer, None
        loss = surrogate_loss(list(self.generator.parameters()), outer)
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g)
                                                     for g in outer]))
        return {"loss": loss, "outer_grad_norm": norm}

    # -- the student ----------------------------------------------------------------------
    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """Nothing to learn during warm-up: a constant whose backward reaches no weight, so
        the optimizer skips every parameter (no weight decay, no momentum step)."""
        if iteration >= self.options.warmup_rounds:
            return super().student_loss(iteration)
        return self.idle_student_loss("fast_dfkd's warm-up rounds take no student step",
                                      "warmup")

    def distill(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                targets: torch.Tensor) -> dict[str, torch.Tensor]:
        kd = kd_kl(self.student(images), teacher_logits, self.options.temperature)
        return {"loss": kd, "kd": kd}

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["bn_momentum"] = self.prior.state_dict() if self.prior is not None else None
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if self.prior is not None and state.get("bn_momentum") is not None:
            self.prior.load_state_dict(state["bn_momentum"])

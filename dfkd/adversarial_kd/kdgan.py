"""KDGAN (Wang, Zhang, Sun, Qi, "KDGAN: Knowledge Distillation with Generative Adversarial
Networks", NeurIPS 2018): a three-player game on the real training set.

    min_{S,T} max_D  E_{y∼p_true}[log D(x,y)] + α·E_{y∼p_S}[log(1 − D(x,y))]
                     + (1 − α)·E_{y∼p_T}[log(1 − D(x,y))] + β·L_DS(S←T) + γ·L_DS(T←S)

The student S and the teacher T both *train*: each samples pseudo labels from its concrete
distribution (straight-through Gumbel-softmax at temperature τ, annealed per epoch) and
tries to have D take them for true labels, while distilling from the other (β·L_DS(S←T),
γ·L_DS(T←S); L2 on logits, the paper's reported form). D(x, y) = σ(D(x)_y), a classifier
network's y-th logit (``kdgan_losses``). Per iteration, on one batch, as Algorithm 1
orders the players: D steps (the loop's adversary), then T (the loop's critic slot, a
player named "teacher"), then S (the student). A network that is not stepping runs in eval
mode without a graph. Batches are a function of (seed, iteration) and the Gumbel draws come
from torch's global generator, which the loop checkpoints, so ``--resume`` is exact.

Published defaults: the authors' MNIST code (α = 1 − intelltch_weight = 0.2, β 2, γ 1e-4,
τ 10 → 0.1 by × 0.88, Adam: D 1e-3, S and T 5e-4). Deviations, with their reasons:
- pretraining: the paper pretrains all three players. Here the teacher is the run's
  pretrained checkpoint, copied: it keeps training in the game, the file is not changed.
  D starts as a second copy of that teacher (``adversary`` None): the code pretrains D as
  a classifier with CE, which is what the teacher already is, for free. The student starts
  from scratch, as in every other real-data row, so the runs share one data budget.
- steps: one step per player per batch (the code: 20 D epochs, then 10 T epochs, then 10 S
  epochs per outer epoch), which fits the shared loop and the 5-epoch budget.
- adversarial loss of S and T: non-saturating −log D(x, ỹ) by default (``nonsaturating``;
  the paper's log(1 − D) saturates while D wins); the code's reward-weighted sigmoid CE (a
  policy gradient) is replaced by the straight-through gradient the paper describes.
- τ decays × ``tau_decay`` per epoch down to ``tau_min``; the code spreads its 36 decays
  over the run (every ⌊epochs/36⌋ epochs): the same for runs under 72 epochs.
- ``ce``: 0, as the paper's objective; the code's "distn" distillation mixes in CE.

The family's constructor, ``Method(teacher, student, adversary, options, data, setup)``:
``teacher`` the trainable copy of the pretrained teacher, ``student`` S, ``adversary`` D (a
classifier with as many outputs as classes) or None for a copy of the teacher, ``options``
:class:`KDGANOptions`, ``data`` the training set, ``setup`` a :class:`RealDataSetup`
without augment or knowledge (KDGAN's loss is its own).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from dfkd.adversarial_kd import kdgan_losses as L
from dfkd.adversarial_kd.registry import METHODS
from dfkd.adversarial_kd.setup import RealDataSetup
from dfkd.core.errors import ConfigError
from dfkd.core.modes import eval_mode
from dfkd.engine import StatelessMethod
from dfkd.engine.real_batches import RealBatches


@dataclass(frozen=True)
class KDGANOptions:
    """KDGAN's game (Wang et al., NeurIPS 2018), defaults from the authors' MNIST code:
    ``alpha`` α weighs D's judgement of the student's labels against the teacher's,
    ``beta`` β the student's distillation from the teacher, ``gamma`` γ the teacher's from
    the student; ``tau``, ``tau_min``, ``tau_decay`` the concrete distribution's temperature
    schedule; ``distill`` L_DS (``l2`` on logits, or ``kl``); ``nonsaturating`` the
    classifiers' GAN loss; ``ce`` an optional CE on true labels for the student (0: none);
    ``teacher_lr``, ``teacher_steps`` the teacher player's Adam rate and steps per batch
    (0 freezes the teacher: KDGAN without its teacher's learning)."""

    alpha: float = 0.2
    beta: float = 2.0
    gamma: float = 1e-4
    tau: float = 10.0
    tau_min: float = 0.1
    tau_decay: float = 0.88
    distill: str = "l2"
    nonsaturating: bool = True
    ce: float = 0.0
    teacher_lr: float = 5e-4
    teacher_steps: int = 1


def check_options(o: KDGANOptions) -> None:
    """One error line for a value the game cannot take."""
    bad = [("alpha", o.alpha, 0 <= o.alpha <= 1, "in [0, 1]"),
           ("tau", o.tau, o.tau > 0, "> 0"), ("tau_min", o.tau_min, o.tau_min > 0, "> 0"),
           ("tau_decay", o.tau_decay, 0 < o.tau_decay <= 1, "in (0, 1]"),
           ("teacher_lr", o.teacher_lr, o.teacher_lr > 0, "> 0")]
    for key, value, ok, rule in bad:
        if not ok:
            raise ConfigError(f"method kdgan: options.{key} must be {rule}, got {value}")
    if o.distill not in L.DISTILL:
        raise ConfigError(f"method kdgan: options.distill {o.distill!r}: use one of "
                          f"{', '.join(L.DISTILL)}")


@METHODS.register("kdgan")
class KDGAN(StatelessMethod):
    """The three players' losses (see the module docstring)."""

    Options = KDGANOptions

    def __init__(self, teacher: nn.Module, student: nn.Module, adversary: nn.Module | None,
                 options: KDGANOptions, data: TensorDataset, setup: RealDataSetup) -> None:
        setup.refuse_own_loss_extras("KDGAN")
        check_options(options)
        self.options = options
        self.teacher, self.student = teacher.requires_grad_(True), student
        self.discriminator = (copy.deepcopy(teacher) if adversary is None
                              else adversary).requires_grad_(True).to(setup.device)
        self.batch = RealBatches(data, setup.batch_size, setup.seed, setup.device)
        self.steps_per_epoch = self.batch.steps_per_epoch
        probe = data.tensors[0][:2].to(setup.device)
        with eval_mode(teacher, student, self.discriminator), torch.no_grad():
            widths = {name: net(probe).shape[1] for name, net in
                      (("teacher", teacher), ("student", student), ("discriminator",
                                                                    self.discriminator))}
        if len(set(widths.values())) != 1:
            raise ConfigError("KDGAN's three networks must give one logit per class, but "
                              + ", ".join(f"the {k} gives {v}" for k, v in widths.items())
                              + ": set critic.model to a classifier of the dataset's classes")

    def tau(self, iteration: int) -> float:
        """The concrete distribution's temperature during ``iteration``'s epoch."""
        o = self.options
        return L.gumbel_temperature(iteration // self.steps_per_epoch, o.tau, o.tau_min,
                                    o.tau_decay)

    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """D's step: true labels real, the student's and teacher's pseudo labels fake."""
        images, labels = self.batch(iteration)
        tau = self.tau(iteration)
        with eval_mode(self.student, self.teacher), torch.no_grad():
            student_labels = L.gumbel_softmax_sample(self.student(images), tau)
            teacher_labels = L.gumbel_softmax_sample(self.teacher(images), tau)
        self.discriminator.train()
        out = L.discriminator_loss(self.discriminator(images), labels, student_labels,
                                   teacher_labels, self.options.alpha)
        return {**out, "tau": torch.tensor(tau)}

    def _classifier_loss(self, own: nn.Module, other: nn.Module, images: torch.Tensor,
                         tau: float, adv_weight: float, distill_weight: float
                         ) -> dict[str, torch.Tensor]:
        """adv_weight·L_adv(D(x, ỹ_own)) + distill_weight·L_DS(own ← other)."""
        with eval_mode(other, self.discriminator), torch.no_grad():
            other_logits, d_logits = other(images), self.discriminator(images)
        own.train()
        logits = own(images)
        sample = L.gumbel_softmax_sample(logits, tau)
        adversarial = L.classifier_adversarial_loss(L.label_scores(d_logits, sample),
                                                    self.options.nonsaturating)
        distill = L.distillation_loss(logits, other_logits, self.options.distill)
        return {"loss": adv_weight * adversarial + distill_weight * distill,
                "adversarial": adversarial, "distill": distill, "logits": logits}

    def critic_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """The teacher's step: (1 − α)·L_adv(D(x, ỹ_t)) + γ·L_DS(T←S)."""
        images, _ = self.batch(iteration)
        o = self.options
        out = self._classifier_loss(self.teacher, self.student, images, self.tau(iteration),
                                    1 - o.alpha, o.gamma)
        out.pop("logits")
        return out

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """The student's step: α·L_adv(D(x, ỹ_s)) + β·L_DS(S←T) (+ ce·CE(S(x), y))."""
        images, labels = self.batch(iteration)
        o = self.options
        out = self._classifier_loss(self.student, self.teacher, images, self.tau(iteration),
                                    o.alpha, o.beta)
        logits = out.pop("logits")
        if o.ce:
            out["ce"] = F.cross_entropy(logits, labels)
            out["loss"] = out["loss"] + o.ce * out["ce"]
        return out

    def log_media(self, logger, iteration: int) -> None:
        pass

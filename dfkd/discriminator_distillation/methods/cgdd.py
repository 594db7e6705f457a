"""CGDD: Conditional Generative Data-free Knowledge Distillation (Yu, Yan, Yang, Zhou & Ou,
arXiv:2112.15358; v1, Dec 2021, by Yu, Yan & Ou, was titled "... based on Attention
Transfer"; v4, Aug 2022, is the current version).

What could be read. Only the two abstracts (v1 and v4) were reachable from here: no copy
of the paper's body (method section, equations and their numbers, loss weights, optimizer,
iteration counts) was found, and the authors published no code (v4 says it will come).
So no equation number is cited below, and every term is tagged with what supports it:

  [v1] / [v4]     stated in that version's abstract (paraphrased);
  [reconstructed] our choice where the abstracts leave the form or the value open.

Generator. A class-conditional G(z, y) is asked for preset, class-balanced labels y and is
trained with y as ground truth, in an adversarial game against the student:
    L_G = α_ce·CE(T(x), y) − α_adv·KL(p_T(x) ‖ p_S(x)),   x = G(z, y)
  - CE toward the preset label [v1: preset labels are extra information for training G;
    v4: they are its ground truth, "semi-supervised"]. v1 also trains G with unnamed
    "knowledge extracted from the teacher" beside the labels; which terms (if any beyond
    this CE) is open, and none is added here [reconstructed].
  - the adversarial term [v4 only: an adversarial framework of several losses that lets
    the student explore a larger data space; v1 has none]. Its measure (here ZSKT's KL of
    the student from the teacher, maximized by G) and α_adv are [reconstructed];
    ``adv: 0`` is the v1 generator.
Student, on the generated batch:
    L_S = α_kd·τ²·KL(p_T^τ ‖ p_S^τ) + α_sce·CE(S(x), y) + β·Σ_l AT_l
  - a conventional distillation loss [v1]; Hinton's KD with τ [reconstructed form];
  - CE toward the asked class y, the student supervised by the synthetic sample's
    category [v1];
  - attention transfer from the teacher's feature maps [v1: the student mimics the
    teacher's attention maps; v4: knowledge in the teacher's feature maps]; Zagoruyko &
    Komodakis's AT at the end of each group of blocks, as in ZSKT
    (``dfkd.losses.attention_transfer``), the layers and β [reconstructed].
Weights: α_ce = α_adv = α_kd = α_sce = 1 and τ = 1 are placeholders, β = 250 is ZSKT's
published value (ZSKT scales its KL by 1/K for that β; here the KL is the per-sample one),
all [reconstructed]; see configs/cgdd/*.yaml.

Schedule [reconstructed: the abstracts name none]: the loop's alternating game, per
iteration n_G generator steps, each on a fresh batch of balanced labels (each class
⌊N/K⌋ or ⌈N/K⌉ times, shuffled) and fresh z, then n_S student steps, all on the batch the
last generator step drew (before G's update, as DAFL's code does), with its asked labels.
Where G takes no step (generator.steps 0) the student steps draw one such batch per
iteration from the fixed G. The method keeps no state of its own across ``--resume``
(the kept batch lives within one iteration); the replay buffer and bank are the base's.

Our additions, not the paper's: with replay, replayed samples (whose asked label is not
stored) take the teacher's class as the CE target; with random views (``augment``) the
teacher labels each view afresh and the CE target stays the asked class; the teacher
re-runs on each student batch for the feature maps AT needs (its cached logits unused).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dfkd.core.errors import ConfigError
from dfkd.discriminator_distillation.methods.base import DataFreeMethod
from dfkd.discriminator_distillation.registry import METHODS
from dfkd.losses import kd_kl


@dataclass
class CGDDOptions:
    """The weights of L_G and L_S (module docstring). The paper's values could not be read:
    every default is a placeholder [reconstructed], see configs/cgdd/cifar10.yaml."""

    ce: float = 1.0  # α_ce: CE(T(G(z, y)), y) in L_G [v1, v4; weight reconstructed]
    adv: float = 1.0  # α_adv: −KL(p_T ‖ p_S) in L_G [v4; form and weight reconstructed; 0: v1]
    kd: float = 1.0  # α_kd: τ²·KL(p_T ‖ p_S) in L_S [v1; form and weight reconstructed]
    student_ce: float = 1.0  # α_sce: CE(S(x), y) in L_S [v1; weight reconstructed]
    at: float = 250.0  # β: Σ_l AT_l in L_S [v1, v4; ZSKT's β, reconstructed]
    temperature: float = 1.0  # τ of both KL terms [reconstructed]


@METHODS.register("cgdd")
class CGDD(DataFreeMethod):
    """Conditional G trained toward preset labels against the student; the student learns
    by KD, CE toward the preset label and attention transfer."""

    Options = CGDDOptions
    uses_attention = True
    needs_conditional = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        o = self.options
        if o.ce == 0 and o.adv == 0 and self.bn_weight == 0 and self.diversity == 0:
            raise ConfigError(
                "cgdd: options.ce and options.adv are both 0, so the generator has no loss: "
                "set options.ce: 1 (to keep G fixed, set generator.steps: 0 instead)")
        if self.knowledge is None and o.kd == 0 and o.student_ce == 0 and o.at == 0:
            raise ConfigError(
                "cgdd: options.kd, options.student_ce and options.at are all 0, so the "
                "student has no loss: set options.kd: 1 (or give a student_loss: block)")

    def generator_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """L_G = α_ce·CE(T(x), y) − α_adv·KL(p_T(x) ‖ p_S(x)), x = G(z, y), y balanced;
        keeps (x, T(x), y) for this iteration's student steps."""
        labels = self.labels(self.batch_size)
        images = self.sample(labels=labels)
        teacher_logits = self.teacher(images)
        ce = F.cross_entropy(teacher_logits, labels)
        adv = kd_kl(self.student(images), teacher_logits, self.options.temperature)
        self.keep_batch(iteration, images, teacher_logits, labels)
        hits = (teacher_logits.detach().argmax(dim=1) == labels).float().mean()
        return {"loss": self.options.ce * ce - self.options.adv * adv, "ce": ce, "adv": adv,
                "asked_class_hits": hits}

    def distill(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """L_S = α_kd·τ²·KL(p_T^τ ‖ p_S^τ) + α_sce·CE(S(x), y) + β·Σ_l AT_l on one student
        batch (``targets``: the asked labels, the teacher's class for replayed samples)."""
        student_logits, teacher_logits, at = self.with_attention(images)
        kd = kd_kl(student_logits, teacher_logits, self.options.temperature)
        ce = F.cross_entropy(student_logits, targets)
        o = self.options
        loss = o.kd * kd + o.student_ce * ce + o.at * at
        return {"loss": loss, "kd": kd, "ce": ce, "at": at}

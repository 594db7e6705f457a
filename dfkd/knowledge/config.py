"""The ``knowledge:`` config section: settings of the ``student_loss:`` terms.

Settings shared by several terms sit at the top level; a term's own settings sit in a
sub-section named after the term (the name ``--loss`` takes)::

    knowledge:
      temperature: 4.0        # kd, dkd, pr_dkd
      warmup: 0
      teacher_layers: []      # feature terms
      student_layers: []
      dkd: {alpha: 1.0, beta: 8.0}                             # dkd and pr_dkd
      tf_kd: {virtual_prob: 0.9, virtual_temperature: 20.0}
      ab: {margin: 1.0}
      ft: {rate: 0.5}
      kdsvd: {k: 1}
      crd: {dim: 128, negatives: 4096, temperature: 0.07}
      ddkd: {steps: 5, diff: 1.0, ae: 1.0}
      adversarial: {gan_mode: vanilla, hidden: 128}  # adversarial, adversarial_logits, anc, kdcan
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass
class DKDSettings:
    """``dkd`` and ``pr_dkd`` (Zhao et al. 2022): α·TCKD + β·NCKD at ``knowledge.temperature``."""

    alpha: float = 1.0  # weight of target-class KD
    beta: float = 8.0  # weight of non-target-class KD


@dataclass
class TfKDSettings:
    """``tf_kd`` (Yuan et al. 2020): the hand-made virtual teacher."""

    virtual_prob: float = 0.9  # the virtual teacher's probability of the true class
    virtual_temperature: float = 20.0


@dataclass
class ABSettings:
    """``ab`` (Heo et al. 2019)."""

    margin: float = 1.0  # margin μ of the activation-boundary hinge


@dataclass
class FTSettings:
    """``ft`` (Kim et al. 2018)."""

    rate: float = 0.5  # paraphrase rate k (factor channels = k · teacher channels)


@dataclass
class KDSVDSettings:
    """``kdsvd`` (Lee et al. 2018)."""

    k: int = 1  # singular vectors kept


@dataclass
class CRDSettings:
    """``crd`` (Tian et al. 2020)."""

    dim: int = 128  # embedding size
    negatives: int = 4096  # negatives drawn from the memory queue
    temperature: float = 0.07  # of the contrastive softmax (not knowledge.temperature)


@dataclass
class DDKDSettings:
    """``ddkd`` (seed 004): the weight of ``ddkd`` in ``student_loss`` is λ₃."""

    steps: int = 5  # denoising steps T
    diff: float = 1.0  # λ₁ (diffusion model's loss)
    ae: float = 1.0  # λ₂ (autoencoder's loss)


@dataclass
class AdversarialSettings:
    """The discriminator of every adversarial term: ``adversarial`` and ``adversarial_logits``
    (Wang et al. 2018), ``anc`` (Belagiannis et al. 2018), ``kdcan`` (Xu et al. 2018)."""

    gan_mode: str = "vanilla"  # the discriminator's GAN loss: vanilla, lsgan, hinge, wgangp
    hidden: int = 128  # the discriminator MLP's width


@dataclass
class KnowledgeConfig:
    """Settings of the ``student_loss:`` terms (``dfkd.knowledge``); published defaults.

    ``temperature`` is shared by kd, dkd and pr_dkd; each other setting lives in the
    section of its term: ``dkd`` (read by dkd and pr_dkd), ``tf_kd``, ``ab``, ``ft``,
    ``kdsvd``, ``crd``, ``ddkd`` and ``adversarial`` (read by adversarial, adversarial_logits,
    anc and kdcan).
    Feature terms pair ``teacher_layers[i]`` with ``student_layers[i]`` (module names;
    empty: each model's feature groups, e.g. LeNet's pooling outputs, ResNet's stages).
    """

    temperature: float = 4.0  # KD, DKD, PR-DKD (Hinton 2015; Zhao 2022)
    # student steps over which every term but ce ramps linearly from 0 to its weight
    # (DKD's warm-up, Zhao et al. 2022: 20 of 240 epochs); 0 disables
    warmup: int = 0
    teacher_layers: list[str] = field(default_factory=list)
    student_layers: list[str] = field(default_factory=list)
    dkd: DKDSettings = field(default_factory=DKDSettings)
    tf_kd: TfKDSettings = field(default_factory=TfKDSettings)
    ab: ABSettings = field(default_factory=ABSettings)
    ft: FTSettings = field(default_factory=FTSettings)
    kdsvd: KDSVDSettings = field(default_factory=KDSVDSettings)
    crd: CRDSettings = field(default_factory=CRDSettings)
    ddkd: DDKDSettings = field(default_factory=DDKDSettings)
    adversarial: AdversarialSettings = field(default_factory=AdversarialSettings)

    # the flat keys these sections replaced (dfkd.core.config.merge names the new key)
    renamed: ClassVar[dict[str, str]] = {
        "dkd_alpha": "dkd.alpha",
        "dkd_beta": "dkd.beta",
        "virtual_prob": "tf_kd.virtual_prob",
        "virtual_temperature": "tf_kd.virtual_temperature",
        "ab_margin": "ab.margin",
        "ft_rate": "ft.rate",
        "kdsvd_k": "kdsvd.k",
        "crd_dim": "crd.dim",
        "crd_negatives": "crd.negatives",
        "crd_temperature": "crd.temperature",
        "ddkd_steps": "ddkd.steps",
        "ddkd_diff": "ddkd.diff",
        "ddkd_ae": "ddkd.ae",
        "adversarial_gan_mode": "adversarial.gan_mode",
        "adversarial_hidden": "adversarial.hidden",
    }

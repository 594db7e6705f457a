"""The ``knowledge:`` config section: settings of the ``student_loss:`` terms."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class KnowledgeConfig:
    """Settings of the ``student_loss:`` terms (``dfkd.knowledge``); published defaults.

    Feature terms pair ``teacher_layers[i]`` with ``student_layers[i]`` (module names;
    empty: each model's feature groups, e.g. LeNet's pooling outputs, ResNet's stages).
    """

    temperature: float = 4.0  # KD, DKD, PR-DKD (Hinton 2015; Zhao 2022)
    # student steps over which every term but ce ramps linearly from 0 to its weight
    # (DKD's warm-up, Zhao et al. 2022: 20 of 240 epochs); 0 disables
    warmup: int = 0
    dkd_alpha: float = 1.0  # DKD: weight of target-class KD
    dkd_beta: float = 8.0  # DKD: weight of non-target-class KD
    virtual_prob: float = 0.9  # Tf-KD: the virtual teacher's probability of the true class
    virtual_temperature: float = 20.0  # Tf-KD
    teacher_layers: list[str] = field(default_factory=list)
    student_layers: list[str] = field(default_factory=list)
    ab_margin: float = 1.0  # AB: margin μ of the activation-boundary hinge
    ft_rate: float = 0.5  # FT: paraphrase rate k (factor channels = k · teacher channels)
    kdsvd_k: int = 1  # KD-SVD: singular vectors kept
    crd_dim: int = 128  # CRD: embedding size
    crd_negatives: int = 4096  # CRD: negatives drawn from the memory queue
    crd_temperature: float = 0.07
    ddkd_steps: int = 5  # DDKD: denoising steps T
    ddkd_diff: float = 1.0  # DDKD: λ₁ (diffusion model's loss)
    ddkd_ae: float = 1.0  # DDKD: λ₂ (autoencoder's loss)
    adversarial_gan_mode: str = "vanilla"  # adversarial, anc: the discriminator's GAN loss
    adversarial_hidden: int = 128  # adversarial, anc: the discriminator MLP's width

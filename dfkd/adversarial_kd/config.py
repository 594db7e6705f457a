"""Configs of classifier distillation with real data: data-driven KD (``tools/train_kd.py``)
and AFD (``tools/train_afd.py``)."""
from __future__ import annotations

from dataclasses import dataclass, field

from dfkd.data.augment import AugmentConfig
from dfkd.engine.config import KDTrainConfig, OptimConfig, PlayerConfig, ScheduleConfig, gan_optim
from dfkd.knowledge.config import KnowledgeConfig


@dataclass
class KDConfig:
    """Classic distillation with the real training data (``tools/train_kd.py``): the
    baseline data-free results are compared against."""

    dataset: str = "fashion_mnist"
    data_root: str = ""
    teacher: str = "lenet5"
    teacher_ckpt: str = ""
    student: PlayerConfig = field(default_factory=lambda: PlayerConfig(model="lenet5_half"))
    student_loss: dict[str, float] = field(default_factory=lambda: {"ce": 1.0, "kd": 1.0})
    knowledge: KnowledgeConfig = field(default_factory=KnowledgeConfig)
    critic: PlayerConfig = field(default_factory=gan_optim)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: KDTrainConfig = field(default_factory=KDTrainConfig)


@dataclass
class AFDConfig:
    """Online adversarial feature-map distillation (``tools/train_afd.py``; Chung et al.,
    ICML 2020): two ``peers`` train together from scratch on the real training set, each
    fooling its own discriminator on the map at ``peer_layers[i]`` (empty: each peer's last
    feature group) plus CE and the mutual (DML) KL at ``temperature``."""

    dataset: str = "fashion_mnist"
    data_root: str = ""
    peers: list[str] = field(default_factory=lambda: ["lenet5", "lenet5_half"])
    peer_layers: list[str] = field(default_factory=list)
    peer: PlayerConfig = field(default_factory=lambda: PlayerConfig(
        optim=OptimConfig(name="sgd", lr=0.01, momentum=0.9, weight_decay=5e-4),
        schedule=ScheduleConfig(name="cosine")))
    discriminator: PlayerConfig = field(default_factory=lambda: PlayerConfig(
        optim=OptimConfig(name="adam", lr=2e-4, betas=[0.5, 0.999])))
    ndf: int = 64  # width of each feature-map discriminator
    gan_mode: str = "lsgan"
    adv_weight: float = 1.0
    kl_weight: float = 1.0
    temperature: float = 3.0
    train: KDTrainConfig = field(default_factory=KDTrainConfig)

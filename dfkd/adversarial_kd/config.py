"""Configs of classifier distillation with real data: data-driven KD and KDGAN
(``tools/train_kd.py``; ``method`` picks one) and AFD (``tools/train_afd.py``, its own
config, no ``method`` key)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from dfkd.data.augment import AugmentConfig
from dfkd.engine.config import KDTrainConfig, OptimConfig, PlayerConfig, ScheduleConfig, gan_optim
from dfkd.knowledge.config import KnowledgeConfig


@dataclass
class KDConfig:
    """Classic distillation with the real training data (``tools/train_kd.py``): the
    baseline data-free results are compared against.

    ``method: kd`` (the default) has no options: its loss is the ``student_loss:`` block
    with the ``knowledge:`` section, the same top-level sections a data-free config has (and
    ``--loss`` replaces), so the two families' configs read alike (``DataDrivenKD`` gets
    them built, as ``RealDataSetup.knowledge``; its ``KDOptions`` are empty).
    ``method: kdgan`` (Wang et al., NeurIPS 2018; ``kdgan.KDGANOptions`` under
    ``options:``) plays its own three-player game instead: it reads neither block, its
    discriminator is the ``critic:`` player (``critic.model`` empty: a copy of the teacher).
    """

    dataset: str = "fashion_mnist"
    method: str = "kd"  # kd, or kdgan (dfkd.adversarial_kd.METHODS; afd has its own tool)
    options: dict[str, Any] = field(default_factory=dict)  # the method's Options
    data_root: str = ""
    # a model name, an import path, or {class, kwargs, ckpt} (dfkd.nets.import_path)
    teacher: str | dict[str, Any] = "lenet5"
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
    fooling its own discriminator on its feature map plus CE and the mutual (DML) KL.

    ``options:`` holds the method's own settings (``AFDOptions``: ``gan_mode``,
    ``adv_weight``, ``kl_weight``, ``temperature``, ``ndf``, ``peer_layers``, the map each
    peer is judged on; empty: each peer's last feature group), checked when the config is
    read. They were top-level keys before; an old key is an error naming its new place.
    """

    renamed: ClassVar[dict[str, str]] = {
        key: f"options.{key}" for key in ("gan_mode", "adv_weight", "kl_weight", "temperature",
                                           "ndf", "peer_layers")}

    dataset: str = "fashion_mnist"
    data_root: str = ""
    peers: list[str] = field(default_factory=lambda: ["lenet5", "lenet5_half"])
    options: dict[str, Any] = field(default_factory=dict)
    peer: PlayerConfig = field(default_factory=lambda: PlayerConfig(
        optim=OptimConfig(name="sgd", lr=0.01, momentum=0.9, weight_decay=5e-4),
        schedule=ScheduleConfig(name="cosine")))
    discriminator: PlayerConfig = field(default_factory=lambda: PlayerConfig(
        optim=OptimConfig(name="adam", lr=2e-4, betas=[0.5, 0.999])))
    train: KDTrainConfig = field(default_factory=KDTrainConfig)

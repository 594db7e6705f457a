"""The config of joint G+D distillation (``tools/distill_gan.py``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from dfkd.engine.config import GANTrainConfig, PlayerConfig, gan_optim
from dfkd.gan.evaluation import FIDConfig


@dataclass
class JointConfig:
    """Distilling a DCGAN teacher (``tools/compress_gan.py --task dcgan``) into a GAN of
    ``student_ngf``/``student_ndf`` filters.

    ``method``: ``joint`` (Chen et al. 2020): the student generator steps on
    gan_weight·L_GAN(D_S) + pixel_weight·‖G_S(z) − G_T(z)‖₁, the student discriminator on
    L_GAN + d_distill_weight·‖D_S(x) − D_T(x)‖₁ over real and generated x, where D_T is the
    teacher's discriminator (``discriminator_ckpt``: ``auto`` finds ``latest_net_D.pth``
    beside the generator); ``aguinaldo`` (Aguinaldo et al. 2019): the generator alone, on
    pixel_weight·‖G_S(z) − G_T(z)‖² for the same z, no discriminator; ``ppcd`` (Vo et al.
    2022, ``configs/ppcd/fashion.yaml``): a conditional DCGAN teacher (``teacher_ckpt`` of
    ``configs/gan/fashion_conditional.yaml``) pruned and distilled into a PP-Res student of
    ``student_ngf``, its options ``PPCDOptions``.
    """

    renamed: ClassVar[dict[str, str]] = {
        key: f"options.{key}" for key in ("gan_mode", "gan_weight", "pixel_weight",
                                           "d_distill_weight")}

    task: str = "fashion"
    data_root: str = ""
    method: str = "generic_joint"
    # the methods' options (JointOptions: gan_mode, gan_weight, pixel_weight,
    # d_distill_weight), checked against that dataclass when the config is read
    options: dict[str, Any] = field(default_factory=dict)
    teacher_ckpt: str = ""
    discriminator_ckpt: str = "auto"
    student_ngf: int = 16
    student_ndf: int = 16
    fid: FIDConfig = field(default_factory=FIDConfig)
    student: PlayerConfig = field(default_factory=gan_optim)
    discriminator: PlayerConfig = field(default_factory=gan_optim)
    train: GANTrainConfig = field(default_factory=GANTrainConfig)

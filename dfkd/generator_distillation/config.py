"""The config of GAN Compression (``tools/compress_gan.py``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from dfkd.data.image_folders import ImageFolderConfig
from dfkd.engine.config import GANTrainConfig, PlayerConfig, linear_gan_optim
from dfkd.gan.evaluation import FIDConfig


@dataclass
class CompressConfig:
    """GAN Compression (``tools/compress_gan.py``; Li et al. 2020, Eq. 4): a student
    generator of ``student_ngf`` filters, started from the teacher by L1 channel selection
    (``options.student_init``), learns from a pix2pix/CycleGAN teacher with
    gan_weight·L_GAN + recon_weight·L1 (``options.recon_target``: to the target on a paired
    task, to the teacher's output on an unpaired one) + distill_weight·Σ‖1×1conv(student
    layer) − teacher layer‖² at ``distill_layers`` (empty:
    ``generators.pix2pix.distill_layers`` of the netG).

    ``discriminator_ckpt``: ``auto`` starts D from the teacher's (``latest_net_D.pth`` or
    ``latest_net_D_A.pth`` beside the generator file), a path from that file, ``""`` from
    scratch (``netD``/``ndf``/``n_layers_D``/``norm``).

    ``data``: a dataset folder in the original layout (``dfkd.data.image_folders``) in the
    task's place when ``data.dataroot`` is set (``task`` is then empty): ``aligned`` pairs
    (pix2pix), ``unaligned`` target-domain reals (CycleGAN).
    """

    renamed: ClassVar[dict[str, str]] = {
        key: f"options.{key}" for key in ("gan_mode", "gan_weight", "recon_weight",
                                           "distill_weight", "distill_layers")}

    task: str = "edges2fashion"
    method: str = "gan_compression"
    # the method's own options (GANCompressionOptions: gan_mode, gan_weight, recon_weight,
    # distill_weight, recon_target, student_init, distill_layers), checked against its
    # dataclass when the config is read
    options: dict[str, Any] = field(default_factory=dict)
    data_root: str = ""
    teacher_ckpt: str = ""
    discriminator_ckpt: str = "auto"
    student_ngf: int = 16
    netD: str = "basic"
    ndf: int = 64
    n_layers_D: int = 3
    norm: str = "batch"
    # a dataset folder in the original layout (aligned/unaligned) instead of the task
    data: ImageFolderConfig = field(default_factory=ImageFolderConfig)
    fid: FIDConfig = field(default_factory=FIDConfig)
    student: PlayerConfig = field(default_factory=linear_gan_optim)
    discriminator: PlayerConfig = field(default_factory=linear_gan_optim)
    train: GANTrainConfig = field(default_factory=GANTrainConfig)

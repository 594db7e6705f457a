"""The config of a GAN teacher run (``tools/train_gan.py``): pix2pix, CycleGAN, DCGAN."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from dfkd.data.image_folders import ImageFolderConfig
from dfkd.engine.config import GANTrainConfig, PlayerConfig, linear_gan_optim
from dfkd.gan.evaluation import FIDConfig


@dataclass
class GANConfig:
    """Training a pix2pix, CycleGAN or DCGAN teacher (``tools/train_gan.py``), original
    option names.

    The task decides the model (there is no ``method`` key): a paired task
    (``edges2fashion``) trains pix2pix, an unpaired one (``sneaker2boot``) CycleGAN, the
    unconditional task (``fashion``) a DCGAN of ``nz``, ``ngf`` and ``ndf``
    (``netG``/``netD``/``norm``/``n_layers_D``/``dropout`` are the image-to-image
    networks'). ``options:`` holds the model's loss settings, checked against its
    ``Options`` dataclass when the config is read: pix2pix ``gan_mode``, ``l1_weight``
    (cGAN + l1_weight·L1); CycleGAN ``gan_mode``, ``lambda_A``, ``lambda_B``,
    ``lambda_identity``, ``pool_size`` (GAN + λ_A/λ_B·cycle + λ_idt·identity, image pools);
    DCGAN ``gan_mode``. ``fid`` says which features give FID at each evaluation.
    ``data`` (a dataset folder in the original layout, ``dfkd.data.image_folders``) takes
    the task's place when ``data.dataroot`` is set (``task`` is then empty): ``aligned``
    trains pix2pix, ``unaligned`` CycleGAN.
    """

    # the loss settings were top-level keys before they moved into options:
    renamed: ClassVar[dict[str, str]] = {
        key: f"options.{key}" for key in ("gan_mode", "l1_weight", "lambda_A", "lambda_B",
                                           "lambda_identity", "pool_size")}

    task: str = "edges2fashion"
    # the model to train instead of the task's own ("": the task's); conditional_dcgan:
    # the fashion task's garments with their labels (the teacher of PPCD-GAN)
    model: str = ""
    # the task's model's own options (Pix2PixOptions, CycleGANOptions or DCGANOptions);
    # a key the model does not take is an error naming it
    options: dict[str, Any] = field(default_factory=dict)
    data_root: str = ""
    netG: str = "resnet_9blocks"
    nz: int = 100
    ngf: int = 64
    norm: str = "batch"
    dropout: bool = False
    netD: str = "basic"
    ndf: int = 64
    n_layers_D: int = 3
    # a dataset folder in the original layout (aligned/unaligned) instead of the task
    data: ImageFolderConfig = field(default_factory=ImageFolderConfig)
    fid: FIDConfig = field(default_factory=FIDConfig)
    generator: PlayerConfig = field(default_factory=linear_gan_optim)
    discriminator: PlayerConfig = field(default_factory=linear_gan_optim)
    train: GANTrainConfig = field(default_factory=GANTrainConfig)

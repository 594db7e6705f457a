"""The config of a GAN teacher run (``tools/train_gan.py``): pix2pix, CycleGAN, DCGAN."""
from __future__ import annotations

from dataclasses import dataclass, field

from dfkd.engine.config import GANTrainConfig, PlayerConfig, linear_gan_optim
from dfkd.gan.evaluation import FIDConfig


@dataclass
class GANConfig:
    """Training a pix2pix or CycleGAN teacher (``tools/train_gan.py``), original option names.

    The task decides the model: a paired task (``edges2fashion``) trains pix2pix (cGAN +
    ``l1_weight``·L1), an unpaired one (``sneaker2boot``) CycleGAN (GAN + ``lambda_A``/
    ``lambda_B``·cycle + ``lambda_identity``·identity, image pools of ``pool_size``).
    The unconditional task (``fashion``) trains a DCGAN of ``nz``, ``ngf`` and ``ndf``
    (``netG``/``netD``/``norm``/``n_layers_D`` are the image-to-image options).
    ``fid`` says which features give FID at each evaluation.
    """

    task: str = "edges2fashion"
    data_root: str = ""
    netG: str = "resnet_9blocks"
    nz: int = 100
    ngf: int = 64
    norm: str = "batch"
    dropout: bool = False
    netD: str = "basic"
    ndf: int = 64
    n_layers_D: int = 3
    gan_mode: str = "vanilla"
    l1_weight: float = 100.0
    lambda_A: float = 10.0
    lambda_B: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 0
    fid: FIDConfig = field(default_factory=FIDConfig)
    generator: PlayerConfig = field(default_factory=linear_gan_optim)
    discriminator: PlayerConfig = field(default_factory=linear_gan_optim)
    train: GANTrainConfig = field(default_factory=GANTrainConfig)

#!/usr/bin/env python
"""Train a pix2pix, CycleGAN or DCGAN teacher on an embedded Fashion-MNIST task.

    python tools/train_gan.py --task pix2pix --out runs/pix2pix_teacher     # edges -> garments
    python tools/train_gan.py --task cyclegan --out runs/cyclegan_teacher   # sneaker <-> boot
    python tools/train_gan.py --task dcgan --set options.gan_mode=hinge     # garments from noise
    python tools/train_gan.py --dataroot datasets/facades --dataset-mode aligned --direction BtoA
    python tools/train_gan.py --dataroot datasets/horse2zebra --dataset-mode unaligned

A dataset folder in the original layout (aligned: DIR/train/, DIR/test/ or val/ of A|B images;
unaligned: DIR/trainA/ trainB/ testA/ testB/) trains pix2pix or CycleGAN with the original
preprocessing (--load-size, --crop-size, --no-flip, --direction) from
configs/gan/<dataset-mode>.yaml.

Defaults come from configs/gan/<task>.yaml; the model's loss settings are under options.
(pix2pix: gan_mode, l1_weight; CycleGAN: gan_mode, lambda_A, lambda_B, lambda_identity,
pool_size; DCGAN: gan_mode). Writes latest_net_G.pth / latest_net_D.pth (pix2pix, DCGAN)
or latest_net_G_A/G_B/D_A/D_B.pth (CycleGAN) in the original code's format.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dfkd.cli import run_main  # noqa: E402
from dfkd.gan_teachers.train import main  # noqa: E402

if __name__ == "__main__":
    run_main(main)

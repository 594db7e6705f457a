#!/usr/bin/env python
"""Compress a pix2pix/CycleGAN generator into a narrow student (GAN Compression).

    python tools/compress_gan.py --teacher-ckpt runs/pix2pix_teacher/latest_net_G.pth \
        --netG resnet_9blocks --task edges2fashion --student-ngf 16
    python tools/compress_gan.py --teacher-ckpt runs/cyclegan_teacher/latest_net_G_A.pth \
        --task cyclegan
    python tools/compress_gan.py --teacher-ckpt latest_net_G.pth --dataroot datasets/edges2shoes \
        --dataset-mode aligned                  # your own generator on the original layout

Writes the student as latest_net_G.pth in the original pix2pix/CycleGAN code's format.
A DCGAN task (``--task dcgan``) is handed to tools/distill_gan.py (joint G+D distillation).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dfkd.cli import run_main  # noqa: E402
from dfkd.commands import compress_gan_main as main  # noqa: E402

if __name__ == "__main__":
    run_main(main)

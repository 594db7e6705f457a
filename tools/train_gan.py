#!/usr/bin/env python
"""Train a pix2pix or CycleGAN teacher on an embedded Fashion-MNIST task.

    python tools/train_gan.py --task pix2pix --out runs/pix2pix_teacher     # edges -> garments
    python tools/train_gan.py --task cyclegan --out runs/cyclegan_teacher   # sneaker <-> boot

Writes latest_net_G.pth / latest_net_D.pth (pix2pix) or latest_net_G_A/G_B/D_A/D_B.pth
(CycleGAN) in the original code's format.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dfkd.cli import run_main  # noqa: E402
from dfkd.gan_teachers.train import main  # noqa: E402

if __name__ == "__main__":
    run_main(main)

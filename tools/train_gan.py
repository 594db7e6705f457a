#!/usr/bin/env python
"""Train a pix2pix teacher on an embedded paired task (edges -> Fashion-MNIST garments).

    python tools/train_gan.py --task edges2fashion --iters 2000 --out runs/pix2pix

Writes latest_net_G.pth / latest_net_D.pth in the original pix2pix code's format.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dfkd.cli import run_main  # noqa: E402
from dfkd.train_gan import main  # noqa: E402

if __name__ == "__main__":
    run_main(main)

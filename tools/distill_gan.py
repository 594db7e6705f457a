#!/usr/bin/env python
"""Joint G+D distillation of a DCGAN teacher into a narrow student GAN (Chen et al. 2020),
or Aguinaldo et al.'s pixel matching (``--set method=aguinaldo``).

    python tools/distill_gan.py --teacher-ckpt runs/dcgan/latest_net_G.pth --out runs/joint

Defaults come from configs/compress/fashion.yaml; --set key=value overrides any key.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dfkd.cli import run_main  # noqa: E402
from dfkd.joint_distillation.train import main  # noqa: E402

if __name__ == "__main__":
    run_main(main)

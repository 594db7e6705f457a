#!/usr/bin/env python
"""AFD: two peers distil each other online through feature-map discriminators.

    python tools/train_afd.py --dataset fashion_mnist --out runs/afd
    python tools/train_afd.py --peers lenet5 lenet5 --epochs 10 --set options.gan_mode=hinge

Defaults come from configs/afd/<dataset>.yaml; --set key=value overrides any key,
AFD's own settings under options. (gan_mode, adv_weight, kl_weight, temperature, ndf,
peer_layers).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dfkd.adversarial_kd.train_afd import main  # noqa: E402
from dfkd.cli import run_main  # noqa: E402

if __name__ == "__main__":
    run_main(main)

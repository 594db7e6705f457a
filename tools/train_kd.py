#!/usr/bin/env python
"""Classic (data-driven) knowledge distillation: the baseline for data-free results.

    python tools/train_kd.py --teacher lenet5 --student lenet5_half \
        --dataset fashion_mnist --epochs 5 --loss ce=1 dkd=1 --out runs/kd_dkd

    python tools/train_kd.py --config configs/kd/fashion_mnist_kdgan.yaml   # KDGAN's game

Defaults come from configs/kd/<dataset>.yaml; --loss replaces its student_loss terms,
--set key=value overrides any key (KDGAN's own settings under options.).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dfkd.adversarial_kd.train import main  # noqa: E402
from dfkd.cli import run_main  # noqa: E402

if __name__ == "__main__":
    run_main(main)

#!/usr/bin/env python
"""Data-free knowledge distillation: a generator, a frozen teacher, a small student.

    python tools/train_dfkd.py --method dafl --teacher lenet5 --student lenet5_half \
        --dataset fashion_mnist --iters 2000 --out runs/dafl

Defaults come from configs/<method>/<dataset>.yaml; --set key=value overrides any key.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dfkd.cli import run_main  # noqa: E402
from dfkd.discriminator_distillation.train import main  # noqa: E402

if __name__ == "__main__":
    run_main(main)

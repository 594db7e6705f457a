#!/usr/bin/env python
"""Train a teacher classifier on real data and save it with its metadata.

    python tools/train_teacher.py --model lenet5 --dataset fashion_mnist --epochs 10

The file (default checkpoints/<model>_<dataset>.pt) is what tools/train_dfkd.py looks for.
Training runs on the shared loop: one checkpoint per epoch in --run-dir, and --resume
continues a stopped run exactly.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dfkd.cli import run_main  # noqa: E402
from dfkd.commands import train_teacher_main as main  # noqa: E402

if __name__ == "__main__":
    run_main(main)

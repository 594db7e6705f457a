#!/usr/bin/env python
"""Train a teacher classifier on real data and save it with its metadata.

    python tools/train_teacher.py --model lenet5 --dataset fashion_mnist --epochs 10

The file (default checkpoints/<model>_<dataset>.pt) is what tools/train_dfkd.py looks for.
Training runs on the shared loop: one checkpoint per epoch in --run-dir, and --resume
continues a stopped run exactly.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dfkd.cli import add_common_args, run_main  # noqa: E402
from dfkd.core.config import check_value  # noqa: E402
from dfkd.data import get_spec  # noqa: E402
from dfkd.engine.run import resolve_device  # noqa: E402
from dfkd.engine.teacher import train_teacher  # noqa: E402
from dfkd.nets import build_model  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default=None, help="default checkpoints/<model>_<dataset>.pt")
    parser.add_argument("--run-dir", default=None,
                        help="checkpoints of the run (default runs/teacher_<model>_<dataset>, or OUT_run)")
    parser.add_argument("--resume", action="store_true", help="continue RUN_DIR/latest.pt")
    add_common_args(parser)
    args = parser.parse_args(argv)
    check_value("--epochs", args.epochs)  # the rule of every config's `epochs` key: >= 1
    spec = get_spec(args.dataset, args.data_root)
    build_model(args.model, in_channels=spec.in_channels, num_classes=spec.num_classes)
    device = resolve_device(args.device or "cpu")
    train_teacher(args.model, args.dataset, args.out, epochs=args.epochs, data_root=args.data_root,
                  device=str(device), seed=args.seed or 0, run_dir=args.run_dir,
                  resume=args.resume, amp=bool(args.amp))
    return 0


if __name__ == "__main__":
    run_main(main)

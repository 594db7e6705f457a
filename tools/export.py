#!/usr/bin/env python
"""Export a run's student (a distilled classifier or a pix2pix/CycleGAN generator) to
TorchScript and ONNX and check the copies: see ``dfkd.nets.export_cli``.

    python tools/export.py --run runs/dafl_lenet5_lenet5_half_fashion_mnist --out exported/
    python tools/export.py --ckpt runs/student/latest_net_G.pth --size 256 --out exported/
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dfkd.cli import run_main  # noqa: E402
from dfkd.nets.export_cli import main  # noqa: E402

if __name__ == "__main__":
    run_main(main)

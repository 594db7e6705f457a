#!/usr/bin/env python
"""Make the embedded dataset (Fashion-MNIST) available under the data root.

Uses Debian's dataset-fashion-mnist files when installed, else torchvision's downloader.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dfkd.cli import run_main  # noqa: E402
from dfkd.data.get_data import main  # noqa: E402

if __name__ == "__main__":
    run_main(main)

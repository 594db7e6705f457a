#!/usr/bin/env python
"""Grid of a trained generator's samples, one row per class: see dfkd/sample.py."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dfkd.cli import run_main  # noqa: E402
from dfkd.discriminator_distillation.sample import main  # noqa: E402

if __name__ == "__main__":
    run_main(main)

#!/usr/bin/env python
"""Knowledge-form losses on real data: student accuracy and time per epoch per loss.

    python tools/benchmark_losses.py                         # both pairs, every row
    python tools/benchmark_losses.py --pairs lenet --rows kd dkd   # a subset; others kept

Writes benchmarks/losses.json and losses.md; the code is benchmarks/losses.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.losses import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

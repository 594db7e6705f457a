#!/usr/bin/env python
"""Data-free methods on the BatchNorm pair (lenet5_bn -> lenet5_half), three seeds:
benchmarks/bn_pair.json and bn_pair.md. The code is benchmarks/bn_pair/.

    python tools/benchmark_bn_pair.py                 # every missing (method, seed) run
    python tools/benchmark_bn_pair.py --methods nayer --seeds 0
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bn_pair.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

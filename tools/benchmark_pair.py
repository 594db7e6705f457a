#!/usr/bin/env python
"""Data-free methods on a teacher -> lenet5_half pair, three seeds: benchmarks/<stem>.json and
.md. The code is benchmarks/pairs/.

    python tools/benchmark_pair.py --pair lenet5_bn    # BatchNorm pair: bn_pair.json/.md
    python tools/benchmark_pair.py --pair lenet5       # embedded default: lenet5_pair.json/.md
    python tools/benchmark_pair.py --pair lenet5_bn --methods nayer --seeds 0
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.pairs.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""One process against ``torchrun`` with two: throughput and accuracy (``make bench-ddp``).

    python tools/benchmark_distributed.py

Writes benchmarks/distributed.json and .md; the code is benchmarks/distributed.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.distributed import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

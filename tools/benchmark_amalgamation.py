#!/usr/bin/env python
"""Data-free knowledge amalgamation, two half-teachers -> one student, three seeds:
benchmarks/amalgamation.json and amalgamation.md. The code is benchmarks/amalgamation/.

    python tools/benchmark_amalgamation.py                # every missing seed
    python tools/benchmark_amalgamation.py --seeds 0
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.amalgamation.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Data-free distillation benchmark on the embedded default: every method with and without
replay, each in a child process with its peak RSS; memory flatness, forgetting, loop overhead.

    python tools/benchmark.py                             # every variant, memory, overhead
    python tools/benchmark.py --methods dafl mad-replay   # a subset; other rows are kept

Writes benchmarks/results.json and results.md; the code is benchmarks/data_free/.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.data_free.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

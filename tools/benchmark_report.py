#!/usr/bin/env python
"""``benchmarks/README.md``: one page from every benchmark's JSON, with plots.

    python tools/benchmark_report.py            # after any of make bench / bench-losses /
                                                # bench-gan / bench-joint / bench-ddp (they
                                                # all call it)

The code is benchmarks/report.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Generator distillation on the embedded tasks: teacher, scratch and every method's
student, 3 seeds (mean ± std), with MACs, latency, FID, CPU time and issue 19's target.

    python tools/benchmark_gan.py                       # train what is missing, measure, report
    python tools/benchmark_gan.py --tasks pix2pix --seeds 0 --stop-after 150
    python tools/benchmark_gan.py --measure-only
    python tools/benchmark_gan.py --quick               # smoke test, runs/gan_bench_quick

Writes benchmarks/gan_compression.json and .md; the code is benchmarks/gan/ (its
__init__ says how to run it part by part).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.gan.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

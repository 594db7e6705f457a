#!/usr/bin/env python
"""Joint G+D distillation and adversarial student KD: ``benchmarks/joint.md``.

    python tools/benchmark_joint.py                 # train what is missing, measure, report
    python tools/benchmark_joint.py --parts gan     # only the GAN table (or: kd)

Writes benchmarks/joint.json and .md; the code is benchmarks/joint.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.joint import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

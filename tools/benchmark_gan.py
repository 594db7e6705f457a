#!/usr/bin/env python
"""GAN compression on the embedded tasks: teacher vs distilled student vs scratch student.

    python tools/benchmark_gan.py                       # train what is missing, measure, report
    python tools/benchmark_gan.py --tasks pix2pix --measure-only

Writes benchmarks/gan_compression.json and .md; the code is benchmarks/gan.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.gan import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

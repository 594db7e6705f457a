#!/usr/bin/env python
"""Make the embedded dataset (Fashion-MNIST) available under the data root.

Uses Debian's dataset-fashion-mnist files when installed, else torchvision's downloader.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dfkd.core.errors import DatasetMissingError  # noqa: E402
from dfkd.data import data_root, prepare_fashion_mnist  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-root", default=None)
    root = data_root(parser.parse_args().data_root)
    try:
        raw = prepare_fashion_mnist(root)
        print(f"Fashion-MNIST ready in {raw}")
    except DatasetMissingError:
        from torchvision.datasets import FashionMNIST

        print("Debian's dataset-fashion-mnist is not installed: downloading with torchvision")
        FashionMNIST(str(root), train=True, download=True)
        FashionMNIST(str(root), train=False, download=True)
        print(f"Fashion-MNIST ready in {root / 'FashionMNIST' / 'raw'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

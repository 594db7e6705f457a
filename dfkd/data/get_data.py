"""Make the embedded dataset (Fashion-MNIST) available under the data root.

Uses Debian's dataset-fashion-mnist files when installed, else torchvision's downloader.
"""
from __future__ import annotations

import argparse

from dfkd.core.errors import DatasetMissingError
from dfkd.data.locate import data_root, prepare_fashion_mnist


def main(argv: list[str] | None = None) -> int:
    """``tools/get_data.py`` and ``dfkd-get-data``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-root", default=None)
    root = data_root(parser.parse_args(argv).data_root)
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

"""Where datasets live on disk, and making the embedded Fashion-MNIST ready.

The data root is ``--data-root``, else ``$DFKD_DATA``, else ``./data``. Debian's
``dataset-fashion-mnist`` package ships gzipped idx files; torchvision's ``FashionMNIST``
reads them once they are unpacked into ``<root>/FashionMNIST/raw/``.
"""
from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

from dfkd.core.errors import DatasetMissingError

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
GET_DATA = "make data (or: python tools/get_data.py --data-root ROOT)"


def data_root(path: str | Path | None = None) -> Path:
    """The folder holding the datasets: ``path``, else ``$DFKD_DATA``, else ``./data``."""
    return Path(path or os.environ.get("DFKD_DATA") or "data")


def fashion_raw_dir(root: str | Path | None) -> Path:
    return data_root(root) / "FashionMNIST" / "raw"


def missing(folder: Path, names: tuple[str, ...]) -> list[str]:
    """The names in ``names`` that are not files in ``folder``."""
    return [name for name in names if not (folder / name).is_file()]


def prepare_fashion_mnist(root: str | Path | None = None,
                          debian_dir: Path = DEBIAN_FASHION_DIR) -> Path:
    """Unpack Debian's Fashion-MNIST files into ``<root>/FashionMNIST/raw`` (once).

    Returns the raw folder. Raises :class:`DatasetMissingError` naming the fix when the
    files are neither there nor installed by the Debian package.
    """
    raw = fashion_raw_dir(root)
    if not missing(raw, MNIST_FILES):
        return raw
    if missing(debian_dir, tuple(f"{name}.gz" for name in MNIST_FILES)):
        raise DatasetMissingError(
            f"Fashion-MNIST not found in {raw} nor in {debian_dir} (Debian package "
            f"dataset-fashion-mnist). Fix: {GET_DATA}")
    raw.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        tmp = raw / f"{name}.tmp"
        with gzip.open(debian_dir / f"{name}.gz", "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        tmp.replace(raw / name)
    return raw

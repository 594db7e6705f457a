"""Datasets: specs (shape, classes, normalization), locating files, loading tensors."""
from dfkd.data.datasets import get_spec, image_folder_spec, load_tensors
from dfkd.data.locate import data_root, prepare_fashion_mnist
from dfkd.data.specs import SPECS, DatasetSpec

__all__ = ["DatasetSpec", "SPECS", "data_root", "get_spec", "image_folder_spec",
           "load_tensors", "prepare_fashion_mnist"]

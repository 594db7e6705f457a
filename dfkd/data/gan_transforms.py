"""The original pix2pix/CycleGAN preprocessing of one image (junyanz/pytorch-CycleGAN-and-pix2pix,
``data/base_dataset.py``: ``get_params``, ``get_transform`` with ``resize_and_crop``,
``__crop``, ``__flip``, ``ToTensor`` + ``Normalize(0.5, 0.5)``), as pure functions; the
folders that use them are ``dfkd.data.image_folders``."""
from __future__ import annotations

import random

import numpy as np
import torch
from PIL import Image


def crop_params(stream: str, seed: int, iteration: int, count: int, load_size: int,
                crop_size: int) -> list[tuple[int, int, bool]]:
    """``count`` times the original ``get_params``: a crop corner (x, y) in
    [0, load_size − crop_size]² and a flip (``random() > 0.5``), drawn from a generator
    seeded by (stream, seed, iteration): the same for both sides of an aligned pair."""
    rng = random.Random(f"{stream}:{seed}:{iteration}")
    span = max(0, load_size - crop_size)
    return [(rng.randint(0, span), rng.randint(0, span), rng.random() > 0.5)
            for _ in range(count)]


def to_tensor(image: Image.Image) -> torch.Tensor:
    """A PIL image (L or RGB) as a (C, H, W) tensor in [-1, 1]: ToTensor + Normalize(0.5, 0.5)."""
    array = np.asarray(image, dtype=np.float32) / 255.0
    tensor = torch.from_numpy(array[None] if array.ndim == 2 else array.transpose(2, 0, 1).copy())
    return (tensor - 0.5) / 0.5


def resize_crop_flip(image: Image.Image, size: int, crop_size: int,
                     corner: tuple[int, int] | None = None, flip: bool = False) -> torch.Tensor:
    """``image`` resized to ``size``² (bicubic, the original ``transforms.Resize``),
    cropped to ``crop_size``² at ``corner`` when larger (``__crop``), flipped left-right
    when ``flip``, as a tensor in [-1, 1]."""
    image = image.resize((size, size), Image.BICUBIC)
    if corner is not None and size > crop_size:
        x, y = corner
        image = image.crop((x, y, x + crop_size, y + crop_size))
    if flip:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    return to_tensor(image)

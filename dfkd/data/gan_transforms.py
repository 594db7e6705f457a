"""The original pix2pix/CycleGAN preprocessing of one image, as pure functions
(junyanz/pytorch-CycleGAN-and-pix2pix, ``data/base_dataset.py``: ``get_params``,
``get_transform``, ``__scale_width``, ``__crop``, ``__make_power_2``, ``__flip``,
``ToTensor`` + ``Normalize(0.5, 0.5)``); the folders that use them are
``dfkd.data.image_folders``.

Its ``--preprocess`` modes, for an image of ``w``×``h`` (sizes are width × height, as PIL's):

* ``resize_and_crop`` (the default): bicubic resize to ``load_size``², then a
  ``crop_size``² crop;
* ``crop``: a ``crop_size``² crop of the image as it is;
* ``scale_width``: width to ``load_size``, height ``int(max(load_size·h/w, crop_size))``
  (bicubic; kept as it is when its width already is ``load_size`` and its height at least
  ``crop_size``), no crop;
* ``scale_width_and_crop``: that, then a ``crop_size``² crop;
* ``none``: each side rounded to the nearest multiple of 4 (Python's ``round``: halves to
  even), bicubic, when it is not one already.

Then a left-right flip when drawn, then [0, 1] → [-1, 1]. The crop corner is drawn as
``get_params`` draws it: uniform in [0, new_w − crop_size] × [0, new_h − crop_size], where
(new_w, new_h) is (load_size, load_size) for ``resize_and_crop``, (load_size,
load_size·h // w) for ``scale_width_and_crop`` and (w, h) otherwise; the flip is
``random() > 0.5``. ``__crop`` crops only an image larger than ``crop_size`` on some side.
"""
from __future__ import annotations

import random
from typing import Sequence

import numpy as np
import torch
from PIL import Image

#: the original ``--preprocess`` choices (``options/base_options.py``)
PREPROCESS_MODES = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")
#: ``__make_power_2``'s base, as ``get_transform`` calls it for ``none``
POWER_BASE = 4

Size = tuple[int, int]  # (width, height)


def crop_span(size: Size, mode: str, load_size: int, crop_size: int) -> Size:
    """The largest crop corner (x, y) ``get_params`` may draw for an image of ``size``."""
    w, h = size
    if mode == "resize_and_crop":
        new_w = new_h = load_size
    elif mode == "scale_width_and_crop":
        new_w, new_h = load_size, load_size * h // w
    else:
        new_w, new_h = w, h
    return max(0, new_w - crop_size), max(0, new_h - crop_size)


def crop_params(stream: str, seed: int, iteration: int,
                spans: Sequence[Size]) -> list[tuple[int, int, bool]]:
    """The original ``get_params`` once per image: a crop corner (x, y) in
    [0, span_x] × [0, span_y] (:func:`crop_span`) and a flip (``random() > 0.5``), drawn in
    that order, image after image, from a generator seeded by (stream, seed, iteration):
    the same for both sides of an aligned pair, and the same on ``--resume``. (Equal spans
    (load − crop)² give the draws of ``resize_and_crop`` before the other modes existed.)"""
    rng = random.Random(f"{stream}:{seed}:{iteration}")
    return [(rng.randint(0, sx), rng.randint(0, sy), rng.random() > 0.5) for sx, sy in spans]


def power_of_base(size: Size, base: int = POWER_BASE) -> Size:
    """``__make_power_2``'s size: each side rounded to the nearest multiple of ``base``."""
    return tuple(int(round(side / base) * base) for side in size)


def scaled_width_size(size: Size, load_size: int, crop_size: int) -> Size:
    """``__scale_width``'s size: width ``load_size``, height max(load_size·h/w, crop_size)."""
    w, h = size
    if w == load_size and h >= crop_size:
        return size
    return load_size, int(max(load_size * h / w, crop_size))


def output_size(size: Size, mode: str, load_size: int, crop_size: int) -> Size:
    """The size an image of ``size`` leaves ``mode``'s preprocessing with."""
    if mode == "resize_and_crop":
        size = (load_size, load_size)
    elif mode.startswith("scale_width"):
        size = scaled_width_size(size, load_size, crop_size)
    if "crop" in mode and (size[0] > crop_size or size[1] > crop_size):
        size = (crop_size, crop_size)
    if mode == "none":
        size = power_of_base(size)
    return size


def to_tensor(image: Image.Image) -> torch.Tensor:
    """A PIL image (L or RGB) as a (C, H, W) tensor in [-1, 1]: ToTensor + Normalize(0.5, 0.5)."""
    array = np.asarray(image, dtype=np.float32) / 255.0
    tensor = torch.from_numpy(array[None] if array.ndim == 2 else array.transpose(2, 0, 1).copy())
    return (tensor - 0.5) / 0.5


def preprocess(image: Image.Image, mode: str, load_size: int, crop_size: int,
               corner: tuple[int, int] | None = None, flip: bool = False) -> Image.Image:
    """``image`` through ``mode``'s resize (bicubic), its crop at ``corner`` (none: no
    crop), its rounding (``none``) and a left-right flip when ``flip`` (a PIL image)."""
    if mode == "resize_and_crop":
        image = image.resize((load_size, load_size), Image.BICUBIC)
    elif mode.startswith("scale_width"):
        size = scaled_width_size(image.size, load_size, crop_size)
        if size != image.size:
            image = image.resize(size, Image.BICUBIC)
    if "crop" in mode and corner is not None and max(image.size) > crop_size:
        x, y = corner
        image = image.crop((x, y, x + crop_size, y + crop_size))
    if mode == "none":
        size = power_of_base(image.size)
        if size != image.size:
            image = image.resize(size, Image.BICUBIC)
    if flip:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    return image


def resize_crop_flip(image: Image.Image, size: int, crop_size: int,
                     corner: tuple[int, int] | None = None, flip: bool = False) -> torch.Tensor:
    """``resize_and_crop`` with ``load_size`` = ``size``, as a tensor in [-1, 1]."""
    return to_tensor(preprocess(image, "resize_and_crop", size, crop_size, corner, flip))

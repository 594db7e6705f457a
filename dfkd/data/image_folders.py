"""The dataset folders of the original pix2pix/CycleGAN code, read as that code reads them.

Layouts (junyanz/pytorch-CycleGAN-and-pix2pix, ``data/aligned_dataset.py`` and
``data/unaligned_dataset.py``):

* ``aligned`` (pix2pix): ``DIR/train/`` and ``DIR/test/`` (or ``DIR/val/``), each file one
  image A|B side by side, cut in the middle of its width (A the left half);
* ``unaligned`` (CycleGAN): ``DIR/trainA/``, ``DIR/trainB/``, ``DIR/testA/``, ``DIR/testB/``,
  unpaired images of domains A and B.

Files are found as its ``make_dataset`` finds them (every image file under the folder, at
any depth, sorted). Training images are preprocessed as its ``resize_and_crop``
(``data/base_dataset.py``, ``get_params``/``get_transform``): RGB, grayscale when the side
has 1 channel (before the resize, as there), bicubic resize to ``load_size``², a
``crop_size``² crop at a random position, a horizontal flip with probability ½ unless
``no_flip``, then [0, 1] → [-1, 1] (its ``Normalize(0.5, 0.5)``). Aligned A and B share the
crop and the flip; unaligned A and B draw their own. ``direction: BtoA`` makes B the input.

Test time, as its ``test.py`` and ``options/test_options.py`` run it: ``load_size`` defaults
to ``crop_size`` there ("To avoid cropping, the load_size should be the same as
crop_size"), and ``test.py`` sets ``serial_batches = True`` and ``no_flip = True``; so a test
image is resized to ``crop_size``², not cropped (the crop of a ``crop_size``² image at
(0, 0) is the image) and not flipped, and the test images are taken in file order. That
fixed view is also what ``images[index]`` gives for training folders (image grids, probes).

Deviations, and why:

* the crop positions and flips are drawn from (stream, seed, iteration) with a seeded
  ``random.Random``, not from Python's global ``random``, so that ``--resume`` sees the
  crops and flips a straight run would (the same calls as ``get_params``);
* only ``resize_and_crop`` (the original default ``--preprocess``) is implemented;
* an aligned image of odd width is an error (the original gives B the extra column);
* the test split is ``test/`` (``testA/``, ``testB/``), or for aligned folders ``val/``
  when there is no ``test/`` (the original reads ``--phase``, default ``test``;
  ``data.test_phase`` names another);
* batches (``dfkd.gan.setup.TranslationData.orders``): unaligned and not serial, B's
  images come in their own random order per epoch of |B| (the original draws B's index
  uniformly for each A image, epochs of max(|A|, |B|)); serial as the original (B's index
  is A's mod |B|); the last partial batch is dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from PIL import Image

from dfkd.core.errors import ConfigError
from dfkd.data.gan_transforms import crop_params, resize_crop_flip

#: the original ``data/image_folder.py``'s IMG_EXTENSIONS (compared without case)
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".tif", ".tiff")
DATASET_MODES = ("aligned", "unaligned")
DIRECTIONS = ("AtoB", "BtoA")
LAYOUT = {"aligned": "DIR/train/ and DIR/test/ (or DIR/val/), each image A|B side by side",
          "unaligned": "DIR/trainA/, DIR/trainB/, DIR/testA/, DIR/testB/"}


@dataclass
class ImageFolderConfig:
    """A dataset folder in the original layout (the config's ``data:`` section; the flags
    ``--dataroot --dataset-mode --direction --load-size --crop-size --no-flip
    --serial-batches --input-nc --output-nc``), the original option names and defaults.
    ``dataroot`` empty: the embedded ``--task``. ``input_nc``/``output_nc`` 0: the
    teacher's channels (``compress_gan.py``) or 3 (``train_gan.py``). ``test_phase`` empty:
    ``test`` (aligned: else ``val``)."""

    dataroot: str = ""
    dataset_mode: str = ""
    direction: str = "AtoB"
    load_size: int = 286
    crop_size: int = 256
    no_flip: bool = False
    serial_batches: bool = False
    input_nc: int = 0
    output_nc: int = 0
    test_phase: str = ""


def check_folder_config(cfg: ImageFolderConfig) -> None:
    """One ConfigError line for a bad choice in the ``data:`` section."""
    if cfg.dataset_mode not in DATASET_MODES:
        raise ConfigError(f"data.dataset_mode (--dataset-mode) must be one of "
                          f"{', '.join(DATASET_MODES)} for --dataroot {cfg.dataroot}, got "
                          f"{cfg.dataset_mode!r}")
    if cfg.direction not in DIRECTIONS:
        raise ConfigError(f"data.direction (--direction) must be AtoB or BtoA, got "
                          f"{cfg.direction!r}")
    if cfg.load_size < cfg.crop_size:
        raise ConfigError(f"data.load_size {cfg.load_size} is smaller than data.crop_size "
                          f"{cfg.crop_size}: the crop is taken from the resized image; pass "
                          "--load-size >= --crop-size (the original: 286 and 256)")
    for key in ("input_nc", "output_nc"):
        if getattr(cfg, key) not in (0, 1, 3):
            raise ConfigError(f"data.{key} must be 1 (grayscale) or 3 (RGB), or 0 for the "
                              f"default, got {getattr(cfg, key)}")


def list_images(folder: Path, mode: str) -> list[Path]:
    """Every image file under ``folder``, sorted (the original ``make_dataset``), or one
    error line naming the folder and the layout ``mode`` expects."""
    if not folder.is_dir():
        raise ConfigError(f"no folder {folder}: --dataset-mode {mode} expects {LAYOUT[mode]}")
    paths = sorted((p for p in folder.rglob("*")
                    if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS), key=str)
    if not paths:
        raise ConfigError(f"{folder} holds no image ({', '.join(IMG_EXTENSIONS)}): "
                          f"--dataset-mode {mode} expects {LAYOUT[mode]}")
    return paths


def split_folders(cfg: ImageFolderConfig, train: bool) -> list[Path]:
    """The split's folder (aligned) or its A and B folders (unaligned)."""
    root = Path(cfg.dataroot)
    if not root.is_dir():
        raise ConfigError(f"no dataset folder {root}: --dataroot expects "
                          f"{LAYOUT[cfg.dataset_mode]}")
    phase = "train" if train else cfg.test_phase
    if cfg.dataset_mode == "unaligned":
        return [root / f"{phase or 'test'}A", root / f"{phase or 'test'}B"]
    if not phase:
        phase = "test" if (root / "test").is_dir() or not (root / "val").is_dir() else "val"
    return [root / phase]


def check_images(paths: Sequence[Path], aligned: bool) -> None:
    """Every file opens as an image, and an aligned A|B image has an even width (read off
    the file's header, not decoded)."""
    for path in paths:
        try:
            with Image.open(path) as image:
                width, height = image.size
        except OSError as exc:
            raise ConfigError(f"{path} is not a readable image ({exc})") from None
        if aligned and width % 2:
            raise ConfigError(f"{path} is {width}x{height}: an aligned image holds A|B side by "
                              "side, so its width must be even (two halves of equal width)")


class FolderImages:
    """One side (A or B) of a dataset folder, read from disk per batch.

    ``images[index]`` (int, slice, list or index tensor) gives the fixed test-time view
    (resize to ``crop_size``², no crop, no flip); ``images.draw(index, iteration)`` the
    training view, ``resize_and_crop`` with crops and flips drawn from (``stream``, ``seed``,
    ``iteration``). ``half``: ``left``/``right`` of an aligned A|B image, or None."""

    def __init__(self, paths: Sequence[Path], *, channels: int, load_size: int, crop_size: int,
                 flip: bool, seed: int, stream: str, half: str | None = None) -> None:
        self.paths, self.channels, self.half = list(paths), channels, half
        self.load_size, self.crop_size, self.flip = load_size, crop_size, flip
        self.seed, self.stream = seed, stream
        self._last: tuple[tuple, torch.Tensor] | None = None  # D and G phases share a batch

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """As a tensor of the training images would have it: (N, C, crop, crop)."""
        return (len(self.paths), self.channels, self.crop_size, self.crop_size)

    def rows(self, index) -> list[int]:
        if isinstance(index, slice):
            return list(range(len(self.paths)))[index]
        if isinstance(index, int):
            return [index]
        return [int(i) for i in torch.as_tensor(index).reshape(-1)]

    def __getitem__(self, index) -> torch.Tensor:
        """The fixed view of the images at ``index`` (an int gives one (C, H, W) image)."""
        batch = torch.stack([self.load(i, self.crop_size) for i in self.rows(index)])
        return batch[0] if isinstance(index, int) else batch

    def draw(self, index, iteration: int) -> torch.Tensor:
        """The training view of the images at ``index`` for ``iteration``."""
        rows = self.rows(index)
        key = (tuple(rows), iteration)
        if self._last is None or self._last[0] != key:
            params = crop_params(self.stream, self.seed, iteration, len(rows), self.load_size,
                                 self.crop_size)
            self._last = (key, torch.stack([self.load(i, self.load_size, (x, y), flip)
                                            for i, (x, y, flip) in zip(rows, params)]))
        return self._last[1]

    def read(self, i: int) -> Image.Image:
        """File ``i`` as RGB (its half, when aligned), grayscale when 1 channel."""
        with Image.open(self.paths[i]) as file:
            image = file.convert("RGB")
        if self.half is not None:
            width, height = image.size
            middle = width // 2
            box = (0, 0, middle, height) if self.half == "left" else (middle, 0, width, height)
            image = image.crop(box)
        return image.convert("L") if self.channels == 1 else image

    def load(self, i: int, size: int, corner: tuple[int, int] | None = None,
             flip: bool = False) -> torch.Tensor:
        """Image ``i`` resized to ``size``² (bicubic), cropped to ``crop_size``² at
        ``corner`` when larger, flipped when ``flip`` and the folder flips, as a tensor."""
        return resize_crop_flip(self.read(i), size, self.crop_size, corner, flip and self.flip)


def open_split(cfg: ImageFolderConfig, train: bool, input_nc: int, output_nc: int,
               seed: int = 0) -> tuple[FolderImages, FolderImages]:
    """(inputs, targets) of the training or test split of the folder ``cfg`` names: for
    ``aligned`` the two halves of each image (A|B; swapped for ``BtoA``), sharing their
    crops and flips; for ``unaligned`` the images of A and B, each with its own."""
    check_folder_config(cfg)
    btoa = cfg.direction == "BtoA"
    folders = split_folders(cfg, train)
    common = {"load_size": cfg.load_size, "crop_size": cfg.crop_size, "seed": seed,
              "flip": train and not cfg.no_flip}
    if cfg.dataset_mode == "aligned":
        paths = list_images(folders[0], "aligned")
        check_images(paths, aligned=True)
        halves = ("right", "left") if btoa else ("left", "right")
        return tuple(FolderImages(paths, channels=nc, half=half, stream="AB", **common)
                     for nc, half in zip((input_nc, output_nc), halves))
    if btoa:
        folders = folders[::-1]
    sides = [(folder, list_images(folder, "unaligned")) for folder in folders]
    for _, paths in sides:
        check_images(paths, aligned=False)
    return tuple(FolderImages(paths, channels=nc, stream=folder.name[-1], **common)
                 for nc, (folder, paths) in zip((input_nc, output_nc), sides))

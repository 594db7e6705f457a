"""The dataset folders of the original pix2pix/CycleGAN code, read as that code reads them.

Layouts (junyanz/pytorch-CycleGAN-and-pix2pix, ``data/aligned_dataset.py`` and
``data/unaligned_dataset.py``):

* ``aligned`` (pix2pix): ``DIR/train/`` and ``DIR/test/`` (or ``DIR/val/``), each file one
  image A|B side by side, cut in the middle of its width (A the left half);
* ``unaligned`` (CycleGAN): ``DIR/trainA/``, ``DIR/trainB/``, ``DIR/testA/``, ``DIR/testB/``,
  unpaired images of domains A and B.

Files are found as its ``make_dataset`` finds them (every image file under the folder, at
any depth, sorted). Images are read as RGB, grayscale when the side has 1 channel (before
the resize, as there), then preprocessed as its ``--preprocess`` says
(``data/base_dataset.py``, ``get_params``/``get_transform``; the modes and their sizes are
spelled out in ``dfkd.data.gan_transforms``): ``resize_and_crop`` (the default: bicubic
resize to ``load_size``², random ``crop_size``² crop), ``crop`` (random ``crop_size``² crop
of the image as it is), ``scale_width`` (width to ``load_size``, height
max(load_size·h/w, crop_size)), ``scale_width_and_crop`` (that, then a random
``crop_size``² crop) or ``none`` (sides rounded to multiples of 4); then a horizontal flip
with probability ½ unless ``no_flip``, then [0, 1] → [-1, 1] (its ``Normalize(0.5, 0.5)``).
Crop corners are drawn as ``get_params`` draws them (for ``crop`` from the image's own
size, for ``scale_width_and_crop`` from (load_size, load_size·h // w)). Aligned A and B
share the crop and the flip; unaligned A and B draw their own. ``direction: BtoA`` makes B
the input.

``scale_width`` and ``none`` keep the images' aspect, so a split of images of different
aspects (or sizes) gives images of different sizes, which cannot be stacked into a batch:
the original runs these modes with batch size 1, and here a larger ``train.batch_size``
is one error line naming the fix (:meth:`FolderImages.check_batch_size`, called when a
method takes its batch orders).

Test time, as its ``test.py`` and ``options/test_options.py`` run it: ``load_size`` defaults
to ``crop_size`` there ("To avoid cropping, the load_size should be the same as
crop_size"), and ``test.py`` sets ``serial_batches = True`` and ``no_flip = True``; so a test
image goes through the same ``--preprocess`` with ``load_size`` = ``crop_size`` (for
``resize_and_crop``: resized to ``crop_size``², nothing left to crop), not flipped, the
test images taken in file order. That fixed view is also what ``images[index]`` gives for
training folders (image grids, probes).

Deviations, and why:

* the crop positions and flips are drawn from (stream, seed, iteration) with a seeded
  ``random.Random``, not from Python's global ``random``, so that ``--resume`` sees the
  crops and flips a straight run would (the same calls as ``get_params``); unaligned
  images take their corners from ``get_params``' formula too (the original's
  ``UnalignedDataset`` lets ``transforms.RandomCrop`` draw them from the image's size after
  the resize: the same range but for ``scale_width_and_crop`` where load_size·h/w is below
  ``crop_size``, and there only y = 0 is possible either way);
* the test view's crop corner (``crop``, ``scale_width_and_crop``: the only modes with
  something left to crop at load_size = crop_size) is drawn once per image from a stream
  of its own (independent of the run's seed), so every evaluation and every seed sees the
  same test images (the original draws a new random corner at each test run);
* where the first ``eval_pairs`` test images (or the several training images of a fixed
  view: image grids, probes) come out in different sizes (``none``, ``scale_width``), they
  are resized (bicubic) to the size of the first so that the evaluation can stack them
  (the original ``test.py`` runs each image alone, batch 1, at its own size);
* ``crop`` on an image smaller than ``crop_size`` on some side is an error naming the file
  (the original's aligned reader pads the crop with black, its unaligned reader fails in
  ``RandomCrop``); so is ``load_size`` < ``crop_size`` for ``resize_and_crop`` and
  ``scale_width_and_crop`` (a crop larger than the resized image);
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
from dfkd.data.gan_transforms import (
    PREPROCESS_MODES,
    Size,
    crop_params,
    crop_span,
    output_size,
    preprocess,
    to_tensor,
)

#: the original ``data/image_folder.py``'s IMG_EXTENSIONS (compared without case)
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".tif", ".tiff")
DATASET_MODES = ("aligned", "unaligned")
DIRECTIONS = ("AtoB", "BtoA")
LAYOUT = {"aligned": "DIR/train/ and DIR/test/ (or DIR/val/), each image A|B side by side",
          "unaligned": "DIR/trainA/, DIR/trainB/, DIR/testA/, DIR/testB/"}
#: the modes that crop ``crop_size``² out of an image resized after ``load_size``
RESIZED_CROPS = ("resize_and_crop", "scale_width_and_crop")
CROP_FIX = "a --preprocess that crops (resize_and_crop, crop, scale_width_and_crop)"


@dataclass
class ImageFolderConfig:
    """A dataset folder in the original layout (the config's ``data:`` section; the flags
    ``--dataroot --dataset-mode --direction --load-size --crop-size --preprocess --no-flip
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
    preprocess: str = "resize_and_crop"


def check_folder_config(cfg: ImageFolderConfig) -> None:
    """One ConfigError line for a bad choice in the ``data:`` section."""
    if cfg.dataset_mode not in DATASET_MODES:
        raise ConfigError(f"data.dataset_mode (--dataset-mode) must be one of "
                          f"{', '.join(DATASET_MODES)} for --dataroot {cfg.dataroot}, got "
                          f"{cfg.dataset_mode!r}")
    if cfg.direction not in DIRECTIONS:
        raise ConfigError(f"data.direction (--direction) must be AtoB or BtoA, got "
                          f"{cfg.direction!r}")
    if cfg.preprocess not in PREPROCESS_MODES:
        raise ConfigError(f"data.preprocess (--preprocess) must be one of "
                          f"{', '.join(PREPROCESS_MODES)}, got {cfg.preprocess!r}")
    if cfg.preprocess in RESIZED_CROPS and cfg.load_size < cfg.crop_size:
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


def check_images(paths: Sequence[Path], aligned: bool) -> list[Size]:
    """Every file opens as an image, and an aligned A|B image has an even width (read off
    the file's header, not decoded); the (width, height) of each image (of each half,
    when aligned)."""
    sizes = []
    for path in paths:
        try:
            with Image.open(path) as image:
                width, height = image.size
        except OSError as exc:
            raise ConfigError(f"{path} is not a readable image ({exc})") from None
        if aligned and width % 2:
            raise ConfigError(f"{path} is {width}x{height}: an aligned image holds A|B side by "
                              "side, so its width must be even (two halves of equal width)")
        sizes.append((width // 2, height) if aligned else (width, height))
    return sizes


def check_sizes(paths: Sequence[Path], sizes: Sequence[Size], cfg: ImageFolderConfig,
                aligned: bool) -> None:
    """One error line for an image ``cfg.preprocess`` cannot make anything of: smaller
    than ``crop_size`` for ``crop``, a side rounded to 0 by ``none``."""
    what = " per half" if aligned else ""
    for path, (w, h) in zip(paths, sizes):
        if cfg.preprocess == "crop" and min(w, h) < cfg.crop_size:
            raise ConfigError(f"{path} is {w}x{h}{what}, smaller than --crop-size "
                              f"{cfg.crop_size}: --preprocess crop cuts crop_size² out of the "
                              f"image as it is; pass --crop-size {min(w, h)} or a mode that "
                              "resizes first (resize_and_crop, scale_width_and_crop)")
        if cfg.preprocess == "none" and min(output_size((w, h), "none", 0, 0)) == 0:
            raise ConfigError(f"{path} is {w}x{h}{what}: --preprocess none rounds each side to "
                              "a multiple of 4, which leaves nothing of a side under 2 pixels")


def size_text(size: Size) -> str:
    return f"{size[0]}x{size[1]}"


class FolderImages:
    """One side (A or B) of a dataset folder, read from disk per batch.

    ``images[index]`` (int, slice, list or index tensor) gives the fixed test-time view
    (``preprocess`` with load_size = crop_size, a fixed crop corner per image, no flip;
    several images of different sizes resized to the first's); ``images.draw(index,
    iteration)`` the training view, with crops and flips drawn from (``stream``, ``seed``,
    ``iteration``). ``sizes``: each image's (width, height) as read (its half's, when
    aligned); ``half``: ``left``/``right`` of an aligned A|B image, or None."""

    def __init__(self, paths: Sequence[Path], sizes: Sequence[Size], *, channels: int,
                 load_size: int, crop_size: int, flip: bool, seed: int, stream: str,
                 preprocess: str = "resize_and_crop", half: str | None = None) -> None:
        self.paths, self.sizes, self.channels, self.half = list(paths), list(sizes), channels, half
        self.load_size, self.crop_size, self.flip = load_size, crop_size, flip
        self.seed, self.stream, self.mode = seed, stream, preprocess
        self.train_sizes = [output_size(s, preprocess, load_size, crop_size) for s in self.sizes]
        self.view_sizes = [output_size(s, preprocess, crop_size, crop_size) for s in self.sizes]
        self._last: tuple[tuple, torch.Tensor] | None = None  # D and G phases share a batch

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """As a tensor of the training images would have it: (N, C, H, W) (without a crop,
        H and W of the first image)."""
        width, height = self.train_sizes[0]
        return (len(self.paths), self.channels, height, width)

    def rows(self, index) -> list[int]:
        if isinstance(index, slice):
            return list(range(len(self.paths)))[index]
        if isinstance(index, int):
            return [index]
        return [int(i) for i in torch.as_tensor(index).reshape(-1)]

    def check_batch_size(self, batch_size: int, rows: Sequence[int] | None = None) -> None:
        """One error line when a batch of ``batch_size`` (of ``rows``, when given) would
        stack training images of different sizes (``scale_width``, ``none``)."""
        rows = range(len(self.paths)) if rows is None else rows
        first = next(iter(rows), None)
        other = next((i for i in rows if self.train_sizes[i] != self.train_sizes[first]), None)
        if batch_size > 1 and other is not None:
            raise ConfigError(
                f"--preprocess {self.mode} leaves training images of different sizes "
                f"({self.paths[first]} {size_text(self.train_sizes[first])}, "
                f"{self.paths[other]} {size_text(self.train_sizes[other])}), which a batch of "
                f"{batch_size} cannot stack: pass --set train.batch_size=1 (as the original "
                f"runs this mode) or {CROP_FIX}")

    def __getitem__(self, index) -> torch.Tensor:
        """The fixed view of the images at ``index`` (an int gives one (C, H, W) image)."""
        rows = self.rows(index)
        if not rows:
            width, height = self.view_sizes[0]
            return torch.zeros(0, self.channels, height, width)
        views = [self.view(i) for i in rows]
        first = views[0].size
        batch = torch.stack([to_tensor(v if v.size == first else v.resize(first, Image.BICUBIC))
                             for v in views])
        return batch[0] if isinstance(index, int) else batch

    def view(self, i: int) -> Image.Image:
        """Image ``i`` as the original ``test.py`` sees it: load_size = crop_size, no flip;
        the crop corner (crop modes) drawn once for the file from the stream ``view``."""
        span = crop_span(self.sizes[i], self.mode, self.crop_size, self.crop_size)
        x, y, _ = crop_params(f"{self.stream}:view", 0, i, [span])[0]
        return preprocess(self.read(i), self.mode, self.crop_size, self.crop_size, (x, y))

    def draw(self, index, iteration: int) -> torch.Tensor:
        """The training view of the images at ``index`` for ``iteration``."""
        rows = self.rows(index)
        key = (tuple(rows), iteration)
        if self._last is None or self._last[0] != key:
            self.check_batch_size(len(rows), rows)
            spans = [crop_span(self.sizes[i], self.mode, self.load_size, self.crop_size)
                     for i in rows]
            params = crop_params(self.stream, self.seed, iteration, spans)
            self._last = (key, torch.stack([self.load(i, (x, y), flip)
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

    def load(self, i: int, corner: tuple[int, int], flip: bool = False) -> torch.Tensor:
        """Image ``i``'s training view: ``preprocess`` with crop ``corner``, flipped when
        ``flip`` and the folder flips, as a tensor."""
        return to_tensor(preprocess(self.read(i), self.mode, self.load_size, self.crop_size,
                                    corner, flip and self.flip))


def open_split(cfg: ImageFolderConfig, train: bool, input_nc: int, output_nc: int,
               seed: int = 0) -> tuple[FolderImages, FolderImages]:
    """(inputs, targets) of the training or test split of the folder ``cfg`` names: for
    ``aligned`` the two halves of each image (A|B; swapped for ``BtoA``), sharing their
    crops and flips; for ``unaligned`` the images of A and B, each with its own."""
    check_folder_config(cfg)
    btoa = cfg.direction == "BtoA"
    folders = split_folders(cfg, train)
    common = {"load_size": cfg.load_size, "crop_size": cfg.crop_size, "seed": seed,
              "flip": train and not cfg.no_flip, "preprocess": cfg.preprocess}
    if cfg.dataset_mode == "aligned":
        paths = list_images(folders[0], "aligned")
        sizes = check_images(paths, aligned=True)
        check_sizes(paths, sizes, cfg, aligned=True)
        halves = ("right", "left") if btoa else ("left", "right")
        return tuple(FolderImages(paths, sizes, channels=nc, half=half, stream="AB", **common)
                     for nc, half in zip((input_nc, output_nc), halves))
    if btoa:
        folders = folders[::-1]
    sides = []
    for folder in folders:
        paths = list_images(folder, "unaligned")
        sizes = check_images(paths, aligned=False)
        check_sizes(paths, sizes, cfg, aligned=False)
        sides.append((folder, paths, sizes))
    return tuple(FolderImages(paths, sizes, channels=nc, stream=folder.name[-1], **common)
                 for nc, (folder, paths, sizes) in zip((input_nc, output_nc), sides))

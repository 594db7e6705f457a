"""What a GAN-family run gives every method beside its networks and options: the setup
(batch, seed, device), the image-to-image data spec both GAN families take, and how a
method draws its batches from it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from dfkd.core.errors import ConfigError
from dfkd.data.epoch_order import EpochOrder
from dfkd.data.image_folders import ImageFolderConfig, open_split


@dataclass
class GANSetup:
    """Batches are a function of (seed, iteration), ``batch_size`` images each, on ``device``."""

    batch_size: int
    seed: int
    device: torch.device


class SerialOrder:
    """Batches in file order, the original code's ``serial_batches``: iteration ``i`` takes
    items ``(s·b … s·b + b − 1) mod n``, ``s`` its step in an epoch of ``epoch_length``
    items (unaligned: max(|A|, |B|), so B's index is A's index mod |B|, as the original
    ``UnalignedDataset`` takes it); the last partial batch is dropped."""

    def __init__(self, n: int, epoch_length: int, batch_size: int) -> None:
        self.n, self.batch_size = n, batch_size
        self.steps_per_epoch = epoch_length // batch_size

    def indices(self, iteration: int) -> torch.Tensor:
        step = iteration % self.steps_per_epoch
        return torch.arange(step * self.batch_size, (step + 1) * self.batch_size) % self.n


@dataclass
class TranslationData:
    """Training images of an image-to-image task: ``inputs[i]`` → ``targets[i]`` when
    ``paired`` (pix2pix), else unpaired images of the two domains, drawn independently
    (CycleGAN; GAN Compression: ``targets`` are real images of the target domain).

    ``inputs``/``targets`` are tensors (N, C, H, W) in [-1, 1], or the
    :class:`dfkd.data.image_folders.FolderImages` of a dataset folder, whose training view
    (random crop and flip) a method takes with :func:`take`. ``serial``: batches in file
    order (the original ``serial_batches``) instead of a random order per epoch."""

    inputs: Any
    targets: Any
    paired: bool
    serial: bool = False

    def check_size(self, batch_size: int) -> None:
        """One error line for a paired task of unequal sides or a batch larger than the
        training set (a method's constructor calls it before ``orders``)."""
        n_in, n_tg = len(self.inputs), len(self.targets)
        if self.paired and n_in != n_tg:
            raise ConfigError(f"a paired task needs pairs: {n_in} inputs, {n_tg} targets")
        if min(n_in, n_tg) < batch_size:
            raise ConfigError(f"train.batch_size {batch_size} exceeds the {min(n_in, n_tg)} "
                              "training images")

    def orders(self, batch_size: int, seed: int) -> tuple[Any, Any]:
        """The batch orders of inputs and targets (the same object when paired): a fresh
        random order per epoch (:class:`EpochOrder`, targets from ``seed + 1`` when
        unpaired), or :class:`SerialOrder` when ``serial``. A folder whose training images
        come out in different sizes (``--preprocess none``/``scale_width``) takes batches of
        one only: a larger ``batch_size`` is one error line naming the fix."""
        for images in (self.inputs, self.targets):
            check = getattr(images, "check_batch_size", None)
            if check is not None:
                check(batch_size)
        n_in, n_tg = len(self.inputs), len(self.targets)
        if self.serial:
            length = n_in if self.paired else max(n_in, n_tg)
            first = SerialOrder(n_in, length, batch_size)
            return first, (first if self.paired else SerialOrder(n_tg, length, batch_size))
        first = EpochOrder(n_in, batch_size, seed)
        return first, (first if self.paired else EpochOrder(n_tg, batch_size, seed + 1))


def take(images: Any, indices: torch.Tensor, iteration: int) -> torch.Tensor:
    """The training batch ``images[indices]`` of ``iteration``: a tensor's rows, or a
    folder's images with the crops and flips of that iteration (the same for every call
    with the same indices and iteration, so D's and G's phases see one batch)."""
    draw = getattr(images, "draw", None)
    return images[indices] if draw is None else draw(indices, iteration)


def folder_translation(cfg: ImageFolderConfig, input_nc: int, output_nc: int, seed: int,
                       eval_pairs: int) -> tuple[TranslationData, torch.Tensor, torch.Tensor]:
    """A dataset folder in the original layout: its training split (read per batch) as
    :class:`TranslationData` (paired when ``aligned``), and the first ``eval_pairs`` test
    inputs and targets as tensors (the original test view: load_size = crop_size, in order,
    unflipped; see :mod:`dfkd.data.image_folders`)."""
    train_in, train_tg = open_split(cfg, True, input_nc, output_nc, seed)
    test_in, test_tg = open_split(cfg, False, input_nc, output_nc, seed)
    data = TranslationData(train_in, train_tg, cfg.dataset_mode == "aligned", cfg.serial_batches)
    return data, test_in[:eval_pairs], test_tg[:eval_pairs]

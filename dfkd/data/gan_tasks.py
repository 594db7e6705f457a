"""Embedded image-to-image tasks for GAN compression, made from Fashion-MNIST.

No pretrained pix2pix/CycleGAN weights or their datasets can be downloaded here, so the
teachers are trained on two tasks built from the embedded dataset:

* ``edges2fashion`` (paired, pix2pix): the input is the Canny edge map of a garment, drawn
  as dark lines on white like edges2shoes (Isola et al. 2017, section 4), the target the
  garment itself;
* ``sneaker2boot`` (unpaired, CycleGAN): domain A the sneakers (class 7), domain B the
  ankle boots (class 9), as CycleGAN's two-domain collections (Zhu et al. 2017);
* ``fashion`` (unconditional, DCGAN; the teacher of joint G+D distillation): the garments
  themselves, generated from noise.

Images are in [-1, 1] as the pix2pix/CycleGAN generators (Tanh) output them.
"""
from __future__ import annotations

import kornia
import torch

from dfkd.core.errors import ConfigError
from dfkd.data.datasets import get_spec, load_tensors

GAN_TASKS = ("edges2fashion", "sneaker2boot")  # image-to-image translation
PAIRED_TASKS = ("edges2fashion",)  # pix2pix; the others are unpaired (CycleGAN)
UNCONDITIONAL_TASKS = ("fashion",)  # noise to images (DCGAN)
TASK_ALIASES = {"pix2pix": "edges2fashion", "cyclegan": "sneaker2boot", "dcgan": "fashion"}
SNEAKER, ANKLE_BOOT = 7, 9


def to_unit_range(images: torch.Tensor, dataset: str = "fashion_mnist") -> torch.Tensor:
    """Undo the dataset's normalization: images in [0, 1]."""
    return get_spec(dataset).denormalize(images).clamp(0, 1)


def edge_map(images01: torch.Tensor, low: float = 0.1, high: float = 0.2,
             chunk: int = 256) -> torch.Tensor:
    """Canny edges (kornia) of images in [0, 1], as dark lines on white, in [-1, 1].
    Computed in chunks: kornia's hysteresis step is ~3x slower on one huge batch."""
    edges = [kornia.filters.canny(part, low_threshold=low, high_threshold=high)[1]
             for part in images01.split(chunk)]
    return 1.0 - 2.0 * torch.cat(edges)


def edges2fashion(images01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(edge maps, garments), both (N, 1, H, W) in [-1, 1]: the paired task."""
    return edge_map(images01), images01 * 2 - 1


def sneaker2boot(images01: torch.Tensor, labels: torch.Tensor, class_a: int = SNEAKER,
                 class_b: int = ANKLE_BOOT) -> tuple[torch.Tensor, torch.Tensor]:
    """(domain A, domain B) images in [-1, 1]: the unpaired task, one class per domain."""
    domains = []
    for name, cls in (("A", class_a), ("B", class_b)):
        chosen = images01[labels == cls]
        if len(chosen) == 0:
            raise ConfigError(f"domain {name} (class {cls}) has no images in this split")
        domains.append(chosen * 2 - 1)
    return domains[0], domains[1]


def resolve_task(name: str) -> str:
    """A task name, or the model name that stands for its task (``pix2pix``, ``cyclegan``)."""
    task = TASK_ALIASES.get(name, name)
    if task not in GAN_TASKS + UNCONDITIONAL_TASKS:
        raise ConfigError(f"unknown --task {name!r}; use one of: "
                          f"{', '.join(GAN_TASKS + UNCONDITIONAL_TASKS + tuple(TASK_ALIASES))}")
    return task


def fashion_images(root: str | None = None, train: bool = True) -> torch.Tensor:
    """The ``fashion`` task's real images: every Fashion-MNIST garment, in [-1, 1]."""
    images, _ = load_tensors("fashion_mnist", root, train=train).tensors
    return to_unit_range(images) * 2 - 1


def load_gan_task(task: str, root: str | None = None,
                  train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The task's (input, target) pairs or (A, B) domains from the embedded Fashion-MNIST."""
    if task not in GAN_TASKS:
        raise ConfigError(f"unknown GAN task {task!r}; use one of: {', '.join(GAN_TASKS)}")
    images, labels = load_tensors("fashion_mnist", root, train=train).tensors
    images01 = to_unit_range(images)
    if task == "edges2fashion":
        return edges2fashion(images01)
    return sneaker2boot(images01, labels)

"""Image grids of synthetic samples, one row per class (TensorBoard and tools/sample.py)."""
from __future__ import annotations

import torch
import torch.nn as nn

from generators import is_conditional


def rows_by_class(images: torch.Tensor, classes: torch.Tensor, num_classes: int,
                  per_class: int) -> torch.Tensor:
    """Arrange ``images`` as ``num_classes`` rows of ``per_class``: row k holds the first
    images whose class is k, padded with blank images; the batch for
    ``make_grid(..., nrow=per_class)``."""
    blank = torch.zeros_like(images[:1])
    rows = []
    for k in range(num_classes):
        members = images[classes == k][:per_class]
        rows.append(torch.cat([members] + [blank] * (per_class - len(members))))
    return torch.cat(rows)


@torch.no_grad()
def class_grid(generator: nn.Module, teacher: nn.Module, z: torch.Tensor, num_classes: int,
               per_class: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Samples of ``generator`` for latents ``z`` arranged one row per class.

    A conditional generator is asked for class k in row k (it uses the first
    ``num_classes × per_class`` latents); an unconditional one draws ``len(z)`` images,
    sorted into rows by the teacher's class. Returns the grid batch, the teacher's classes
    of the drawn images, and the asked labels (``None`` for an unconditional generator).
    """
    if is_conditional(generator):
        labels = torch.arange(num_classes, device=z.device).repeat_interleave(per_class)
        images = generator(z[: len(labels)], labels)
        return images, teacher(images).argmax(dim=1), labels
    images = generator(z)
    predicted = teacher(images).argmax(dim=1)
    return rows_by_class(images, predicted, num_classes, per_class), predicted, None

"""Image grids of synthetic samples, one row per class (TensorBoard and tools/sample.py)."""
from __future__ import annotations

import torch


def rows_by_class(images: torch.Tensor, classes: torch.Tensor, num_classes: int,
                  per_class: int) -> tuple[torch.Tensor, list[int]]:
    """Arrange ``images`` as ``num_classes`` rows of ``per_class``: row k holds the first
    images whose class is k, padded with blank images. Returns the batch for
    ``make_grid(..., nrow=per_class)`` and how many images each class had."""
    blank = torch.zeros_like(images[:1])
    rows, counts = [], []
    for k in range(num_classes):
        members = images[classes == k][:per_class]
        counts.append(int((classes == k).sum()))
        rows.append(torch.cat([members] + [blank] * (per_class - len(members))))
    return torch.cat(rows), counts

"""TensorBoard logging of a run (scalars, image grids, text)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import torch
from torch.utils.tensorboard import SummaryWriter
from torchvision.utils import make_grid


class RunLogger:
    """Writes TensorBoard event files under ``log_dir``."""

    def __init__(self, log_dir: str | Path) -> None:
        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(str(self.log_dir))

    def scalars(self, values: Mapping[str, float | torch.Tensor], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, float(value), step)

    def image_grid(self, tag: str, images: torch.Tensor, step: int, nrow: int) -> None:
        """Log a batch (N, C, H, W) as one grid, each image rescaled to [0, 1]."""
        grid = make_grid(images.detach().float().cpu(), nrow=nrow, normalize=True,
                         scale_each=True, pad_value=1.0)
        self.writer.add_image(tag, grid, step)

    def text(self, tag: str, text: str, step: int) -> None:
        self.writer.add_text(tag, text, step)

    def histogram(self, tag: str, values: torch.Tensor, step: int, bins: int | str = "auto") -> None:
        self.writer.add_histogram(tag, values.detach().cpu(), step, bins=bins)

    def close(self) -> None:
        self.writer.close()

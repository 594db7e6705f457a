"""``pixels``: no generator network, the batch of images itself (DeepInversion).

Model inversion optimizes input pixels directly (Yin et al., CVPR 2020): what it learns
is a batch x̂ of N images, not the weights of a network. :class:`PixelBatch` holds that
batch as its one parameter, so a data-free run built around a generator works unchanged:
the method re-draws the batch from noise (:meth:`PixelBatch.reset`) and optimizes it in
each synthesis round with an optimizer of its own; between rounds it keeps the last
synthesized batch, which ``G(z)`` returns (the TensorBoard grids, ``tools/sample.py``)
and which the checkpoint carries. Nothing here is trained by the loop's generator player
(``generator.steps: 0``).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from dfkd.core.registry import GENERATORS


class PixelBatch(nn.Module):
    """The last synthesized batch (N, C, H, W) as a parameter; ``G(z)`` returns
    ``len(z)`` of its images, in order, cycling through the batch when more are asked."""

    conditional = False

    def __init__(self, img_size: int = 32, channels: int = 1) -> None:
        super().__init__()
        # one blank image until the first round: the batch size is the method's to choose
        self.pixels = nn.Parameter(torch.zeros(1, channels, img_size, img_size))

    @torch.no_grad()
    def reset(self, n: int) -> nn.Parameter:
        """Start a round: ``n`` images of N(0, 1) noise (from torch's global generator)."""
        _, c, h, w = self.pixels.shape
        self.pixels.data = torch.randn(n, c, h, w, device=self.pixels.device,
                                       dtype=self.pixels.dtype)
        return self.pixels

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        index = torch.arange(len(z), device=self.pixels.device) % len(self.pixels)
        return self.pixels[index]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # a checkpoint holds a batch of its own size: take its shape before loading it
        stored = state_dict.get(prefix + "pixels")
        if stored is not None and stored.shape != self.pixels.shape:
            self.pixels.data = self.pixels.data.new_empty(stored.shape)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


@GENERATORS.register("pixels")
def pixel_batch(nz: int, ngf: int, img_size: int, channels: int,
                num_classes: int = 10) -> PixelBatch:
    """DeepInversion's 'generator': the pixels it optimizes (``nz``, ``ngf`` are unused)."""
    return PixelBatch(img_size, channels)

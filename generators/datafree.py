"""The generator of the DataFree code base (Fang et al.: CMI, Fast-DFKD; NAYER's ``NLGenerator``
body): pixels in [0, 1] from a Sigmoid, then the dataset's normalization.

    z (nz) -> Linear -> 2*ngf x s/4 x s/4 -> BN -> up x2
           -> Conv3x3 2*ngf (no bias) -> BN -> LeakyReLU(0.2) -> up x2
           -> Conv3x3 ngf   (no bias) -> BN -> LeakyReLU(0.2)
           -> Conv3x3 C -> Sigmoid -> (x - mean) / std

Read in zju-vipa/CMI ``datafree/models/generator.py`` (``Generator``) and tmtuan1307/nayer
(``NLGenerator``, whose ``conv_blocks`` are these). The code normalizes the Sigmoid's output
in the synthesizer (``self.normalizer``) before the teacher sees it; here the last step of
the network does it, so every caller gets images in the teacher's input space, as from the
other generators. Unlike the DAFL/DFAD generator (Tanh, then an affine-free BatchNorm that
standardizes each batch), the pixels are bounded by the data's own range: a black
background is exactly representable, and no batch statistic couples the images.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.core.registry import GENERATORS
from generators.dafl import quarter_size


class DataFreeGenerator(nn.Module):
    """Upsampling convolutional generator whose images are normalized [0, 1] pixels."""

    conditional = False

    def __init__(self, nz: int = 256, ngf: int = 64, img_size: int = 32,
                 channels: int = 3) -> None:
        super().__init__()
        self.nz, self.init_size = nz, quarter_size(img_size)
        self.l1 = nn.Sequential(nn.Linear(nz, 2 * ngf * self.init_size ** 2))
        self.conv_blocks = nn.Sequential(
            nn.BatchNorm2d(2 * ngf),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(2 * ngf, 2 * ngf, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(2 * ngf),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(2 * ngf, ngf, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ngf, channels, 3, stride=1, padding=1),
            nn.Sigmoid(),
        )
        # the dataset's statistics (set by build_generator); NaN until then, so that an
        # unnormalized generator cannot pass for a normalized one
        self.register_buffer("mean", torch.full((1, channels, 1, 1), float("nan")))
        self.register_buffer("std", torch.full((1, channels, 1, 1), float("nan")))

    def set_normalization(self, mean: Sequence[float], std: Sequence[float]) -> None:
        """Normalize the [0, 1] pixels with the dataset's per-channel ``mean`` and ``std``."""
        channels = self.mean.shape[1]
        if len(mean) != channels or len(std) != channels:
            raise ConfigError(f"generator: {channels} image channels but the dataset gives "
                              f"{len(mean)} means and {len(std)} stds")
        self.mean.copy_(torch.tensor(mean, dtype=self.mean.dtype).view_as(self.mean))
        self.std.copy_(torch.tensor(std, dtype=self.std.dtype).view_as(self.std))

    def pixels(self, z: torch.Tensor) -> torch.Tensor:
        """The images in [0, 1], before the normalization."""
        out = self.l1(z).view(z.shape[0], -1, self.init_size, self.init_size)
        return self.conv_blocks(out)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (self.pixels(z) - self.mean) / self.std


@GENERATORS.register("datafree")
def datafree_generator(nz: int, ngf: int, img_size: int, channels: int,
                       num_classes: int = 10) -> DataFreeGenerator:
    """The DataFree code base's ``Generator`` (CMI, Fast-DFKD, NAYER): Sigmoid pixels."""
    return DataFreeGenerator(nz, ngf, img_size, channels)

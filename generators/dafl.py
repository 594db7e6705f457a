"""The DAFL / DFAD image generator (Chen et al. 2019, DAFL; Fang et al. 2019, DFAD).

    z (nz) -> Linear -> 2*ngf x s/4 x s/4 -> BN -> up x2
           -> Conv3x3 2*ngf -> BN -> LeakyReLU(0.2) -> up x2
           -> Conv3x3 ngf   -> BN -> LeakyReLU(0.2)
           -> Conv3x3 C -> Tanh -> BN(C, affine=False)

The published generator has ngf = 64; DAFL uses BatchNorm eps 0.8 in the two conv blocks,
DFAD's ``GeneratorA`` the default eps. Module names follow the original code (``l1``,
``conv_blocks0/1/2``) so that its generator checkpoints load. The final affine-free BN
standardizes the images per channel, so they live on the scale of normalized data.
ZSKT's generator (Micaelli & Storkey 2019) is the same network without the final Tanh and
with an affine final BN: its images are not bounded, only standardized then rescaled.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.registry import GENERATORS


def quarter_size(img_size: int) -> int:
    """The side of the first feature map of the upsampling generators (two x2 upsamplings)."""
    if img_size % 4:
        raise ValueError(f"generator image size must be a multiple of 4, got {img_size}")
    return img_size // 4


class DAFLGenerator(nn.Module):
    """Upsampling convolutional generator from a latent vector to an image."""

    conditional = False  # called as G(z); conditional generators as G(z, labels)

    def __init__(self, nz: int = 100, ngf: int = 64, img_size: int = 32, channels: int = 1,
                 bn_eps: float = 0.8, final_tanh: bool = True,
                 final_affine: bool = False) -> None:
        super().__init__()
        self.nz, self.init_size = nz, quarter_size(img_size)
        self.l1 = nn.Sequential(nn.Linear(nz, 2 * ngf * self.init_size ** 2))
        self.conv_blocks0 = nn.Sequential(nn.BatchNorm2d(2 * ngf))
        self.conv_blocks1 = nn.Sequential(
            nn.Conv2d(2 * ngf, 2 * ngf, 3, stride=1, padding=1),
            nn.BatchNorm2d(2 * ngf, eps=bn_eps),
            nn.LeakyReLU(0.2, inplace=True),
        )
        last: list[nn.Module] = [
            nn.Conv2d(2 * ngf, ngf, 3, stride=1, padding=1),
            nn.BatchNorm2d(ngf, eps=bn_eps),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ngf, channels, 3, stride=1, padding=1),
        ]
        if final_tanh:
            last.append(nn.Tanh())
        last.append(nn.BatchNorm2d(channels, affine=final_affine))
        self.conv_blocks2 = nn.Sequential(*last)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.l1(z).view(z.shape[0], -1, self.init_size, self.init_size)
        out = self.conv_blocks0(out)
        out = F.interpolate(out, scale_factor=2)
        out = self.conv_blocks1(out)
        out = F.interpolate(out, scale_factor=2)
        return self.conv_blocks2(out)


@GENERATORS.register("dafl")
def dafl_generator(nz: int, ngf: int, img_size: int, channels: int,
                   num_classes: int = 10) -> DAFLGenerator:
    """DAFL's generator: BatchNorm eps 0.8 in the conv blocks."""
    return DAFLGenerator(nz, ngf, img_size, channels, bn_eps=0.8)


@GENERATORS.register("dfad")
def dfad_generator(nz: int, ngf: int, img_size: int, channels: int,
                   num_classes: int = 10) -> DAFLGenerator:
    """DFAD's ``GeneratorA``: the DAFL generator with default BatchNorm eps."""
    return DAFLGenerator(nz, ngf, img_size, channels, bn_eps=1e-5)


@GENERATORS.register("zskt")
def zskt_generator(nz: int, ngf: int, img_size: int, channels: int,
                   num_classes: int = 10) -> DAFLGenerator:
    """ZSKT's generator: no final Tanh, affine final BatchNorm, default eps."""
    return DAFLGenerator(nz, ngf, img_size, channels, bn_eps=1e-5, final_tanh=False,
                         final_affine=True)

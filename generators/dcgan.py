"""DCGAN generator and discriminator (Radford et al. 2016) for 32×32 images.

The layout of PyTorch's DCGAN example (``examples/dcgan/main.py``), one upsampling stage
shorter for 32×32 inputs: the generator is a stack of transposed convolutions
nz → 4ngf (4×4) → 2ngf (8×8) → ngf (16×16) → nc (32×32) with BatchNorm and ReLU between
and Tanh at the end; the discriminator mirrors it with strided convolutions, LeakyReLU
0.2 and BatchNorm (none on its first layer), and ends in one raw logit per image (the
example's Sigmoid is left to the GAN loss). Weights start as the paper says: convolutions
N(0, 0.02), BatchNorm scales N(1, 0.02), shifts 0. Both keep their layers in ``main``,
so a state_dict reads ``main.<i>.weight`` as the example's ``netG_epoch_*.pth`` does.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from dfkd.core.errors import CheckpointError
from generators.gan_checkpoint import read_state, save_pix2pix_state

IMAGE_SIZE = 32


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN's initialization (section 4): N(0, 0.02) weights, BatchNorm N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """z (N, nz) or (N, nz, 1, 1) → images (N, nc, 32, 32) in [-1, 1]."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 1) -> None:
        super().__init__()
        self.nz = nz
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),  # 4×4
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),  # 8×8
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),  # 16×16
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),  # 32×32
            nn.Tanh(),
        )
        self.apply(init_dcgan_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.view(len(z), self.nz, 1, 1))


def discriminator_trunk(ndf: int, nc: int) -> list[nn.Module]:
    """The DCGAN discriminator's layers from 32×32 images to its 4ndf × 4×4 feature map."""
    return [
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),  # 16×16
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),  # 8×8
        nn.BatchNorm2d(ndf * 2),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),  # 4×4
        nn.BatchNorm2d(ndf * 4),
        nn.LeakyReLU(0.2, inplace=True),
    ]


class DCGANDiscriminator(nn.Module):
    """images (N, nc, 32, 32) → one logit per image, (N,)."""

    def __init__(self, ndf: int = 64, nc: int = 1) -> None:
        super().__init__()
        self.main = nn.Sequential(*discriminator_trunk(ndf, nc),
                                  nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False))  # 1×1
        self.apply(init_dcgan_weights)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"the DCGAN discriminator takes {IMAGE_SIZE}×{IMAGE_SIZE} images, "
                             f"got {tuple(images.shape[-2:])}")
        return self.main(images).flatten()


# -- files ----------------------------------------------------------------------------------
def save_dcgan_state(model: nn.Module, path: str | Path) -> None:
    """The plain state_dict on the CPU, as the DCGAN example saves its nets (the same
    format as pix2pix's files)."""
    save_pix2pix_state(model, path)


def load_matching(model: nn.Module, state: dict, source: str, what: str) -> nn.Module:
    """``model`` with the weights of ``state``, which must hold every key of it at its
    shape; the first that does not is one CheckpointError naming ``source`` and ``what``."""
    own = model.state_dict()
    for key, value in own.items():
        if key not in state or state[key].shape != value.shape:
            found = tuple(state[key].shape) if key in state else "missing"
            raise CheckpointError(f"{source} is not a {what} of this layout: key {key} is "
                                  f"{found}, expected {tuple(value.shape)}")
    model.load_state_dict({k: state[k] for k in own})
    return model


def load_dcgan_generator(path_or_state, device: str | torch.device = "cpu"
                         ) -> tuple[DCGANGenerator, dict]:
    """The generator of a DCGAN ``.pth`` and ``{nz, ngf, nc}`` read off its shapes:
    ``main.0.weight`` is (nz, 4ngf, 4, 4), ``main.9.weight`` (ngf, nc, 4, 4)."""
    source, state = read_state(path_or_state)
    first, last = state.get("main.0.weight"), state.get("main.9.weight")
    if first is None or last is None or first.dim() != 4 or first.shape[2:] != (4, 4):
        raise CheckpointError(f"{source} is not a DCGAN generator (latest_net_G.pth of "
                              f"tools/train_gan.py --task dcgan): its first keys are "
                              f"{', '.join(list(state)[:4]) or '(none)'}")
    info = {"nz": first.shape[0], "ngf": last.shape[0], "nc": last.shape[1]}
    model = load_matching(DCGANGenerator(**info), state, source, "DCGAN generator")
    return model.to(device).eval(), info


def load_dcgan_discriminator(path_or_state, device: str | torch.device = "cpu"
                             ) -> tuple[DCGANDiscriminator, dict]:
    """The discriminator of a DCGAN ``.pth`` and ``{ndf, nc}``: ``main.0.weight`` is
    (ndf, nc, 4, 4)."""
    source, state = read_state(path_or_state)
    first = state.get("main.0.weight")
    if first is None or "main.8.weight" not in state:
        raise CheckpointError(f"{source} is not a DCGAN discriminator (latest_net_D.pth of "
                              f"tools/train_gan.py --task dcgan): its first keys are "
                              f"{', '.join(list(state)[:4]) or '(none)'}")
    info = {"ndf": first.shape[0], "nc": first.shape[1]}
    model = load_matching(DCGANDiscriminator(**info), state, source, "DCGAN discriminator")
    return model.to(device), info


__all__ = ["DCGANDiscriminator", "DCGANGenerator", "init_dcgan_weights",
           "load_dcgan_discriminator", "load_dcgan_generator", "save_dcgan_state"]

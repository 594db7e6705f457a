"""A class-conditional DCGAN for 32×32 images: the teacher GAN of PPCD-GAN on Fashion-MNIST.

Generator G(z, y): the DCGAN generator of ``generators.dcgan`` (transposed convolutions
nz → 4ngf (4×4) → 2ngf (8×8) → ngf (16×16) → nc (32×32), ReLU, Tanh), with each
BatchNorm made *class-conditional*: BN without its own affine, followed by a per-class gain
γ_y and shift β_y (conditional batch normalization, de Vries et al. 2017; the categorical
conditional BN of Miyato & Koyama 2018 and, with a shared embedding, of BigGAN).

Discriminator D(x, y): the DCGAN discriminator body φ (strided convolutions, LeakyReLU 0.2,
BatchNorm) with a *projection* head (Miyato & Koyama, ICLR 2018, section 3):
D(x, y) = ψ(φ(x)) + ⟨e_y, Σ_{h,w} φ(x)⟩, ψ the DCGAN's last 4×4 convolution (a linear map of
the 4×4 feature map) and e_y a learned class embedding. The paper's networks use spectral
normalization and ResNet blocks (so do BigGAN's, PPCD-GAN's teacher); these keep DCGAN's
BatchNorm and plain convolutions so that the teacher is the DCGAN the toolkit's other
GAN methods use, made conditional.

Weights start as DCGAN's (convolutions N(0, 0.02); class gains N(1, 0.02), shifts 0;
projection embedding N(0, 0.02)). Files are plain state_dicts (``save_dcgan_state``);
the loaders read the sizes off the shapes.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from dfkd.core.errors import CheckpointError
from generators.dcgan import (
    IMAGE_SIZE,
    discriminator_trunk,
    init_dcgan_weights,
    load_matching,
    save_dcgan_state,
)
from generators.gan_checkpoint import read_state


class ConditionalBatchNorm2d(nn.Module):
    """BN(x) · γ_y + β_y: batch statistics shared by all classes, gain and shift per class
    (rows of two embedding tables, ``gain`` and ``shift``)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.shift = nn.Embedding(num_classes, channels)
        nn.init.normal_(self.gain.weight, 1.0, 0.02)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        gain = self.gain(labels)[:, :, None, None]
        shift = self.shift(labels)[:, :, None, None]
        return self.bn(x) * gain + shift


def check_labels(z: torch.Tensor, labels: torch.Tensor, num_classes: int) -> None:
    """One integer label in [0, num_classes) per latent vector."""
    if labels.shape != z.shape[:1]:
        raise ValueError(f"one label per latent vector expected, got {tuple(labels.shape)} "
                         f"labels for {z.shape[0]} vectors")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got "
                         f"{int(labels.min())}..{int(labels.max())}")


class ConditionalDCGANGenerator(nn.Module):
    """(z (N, nz), labels (N,)) → images (N, nc, 32, 32) in [-1, 1]."""

    conditional = True

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.nz, self.ngf, self.nc, self.num_classes = nz, ngf, nc, num_classes
        widths = [nz, ngf * 4, ngf * 2, ngf, nc]
        self.convs = nn.ModuleList(
            nn.ConvTranspose2d(widths[i], widths[i + 1], 4, 1 if i == 0 else 2,
                               0 if i == 0 else 1, bias=False) for i in range(4))
        self.norms = nn.ModuleList(ConditionalBatchNorm2d(w, num_classes) for w in widths[1:4])
        for conv in self.convs:
            nn.init.normal_(conv.weight, 0.0, 0.02)

    def features(self, z: torch.Tensor, labels: torch.Tensor
                 ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The images and the class-conditioned activations ReLU(CBN(·, y)) at 4×4, 8×8 and
        16×16 (the maps PPCD's class-aware distillation reads)."""
        check_labels(z, labels, self.num_classes)
        x = z.reshape(len(z), self.nz, 1, 1)
        maps = []
        for conv, norm in zip(self.convs, self.norms):
            x = torch.relu(norm(conv(x), labels))
            maps.append(x)
        return torch.tanh(self.convs[-1](x)), maps

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.features(z, labels)[0]


class ProjectionDCGANDiscriminator(nn.Module):
    """(images (N, nc, 32, 32), labels (N,)) → one logit per image, (N,)."""

    conditional = True

    def __init__(self, ndf: int = 64, nc: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.ndf, self.nc, self.num_classes = ndf, nc, num_classes
        # φ: the DCGAN discriminator up to its 4×4 feature map
        self.main = nn.Sequential(*discriminator_trunk(ndf, nc))
        self.head = nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False)  # ψ
        self.embed = nn.Embedding(num_classes, ndf * 4)  # e_y
        self.apply(init_dcgan_weights)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if images.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"the DCGAN discriminator takes {IMAGE_SIZE}×{IMAGE_SIZE} images, "
                             f"got {tuple(images.shape[-2:])}")
        check_labels(images, labels, self.num_classes)
        h = self.main(images)
        projection = (self.embed(labels) * h.sum(dim=(2, 3))).sum(dim=1)
        return self.head(h).flatten() + projection


class FixedLabels(nn.Module):
    """``generator(z, labels)`` as a one-input module (for MAC counters and image grids that
    call ``model(z)``): the labels are taken from the front of ``labels``, cycled to the
    batch size."""

    def __init__(self, generator: nn.Module, labels: torch.Tensor) -> None:
        super().__init__()
        self.generator = generator
        self.register_buffer("labels", labels.long(), persistent=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        index = torch.arange(len(z), device=self.labels.device) % len(self.labels)
        return self.generator(z, self.labels[index].to(z.device))


# -- files ----------------------------------------------------------------------------------
def load_conditional_generator(path_or_state, device: str | torch.device = "cpu"
                               ) -> tuple[ConditionalDCGANGenerator, dict]:
    """The generator of a conditional DCGAN ``.pth`` (``tools/train_gan.py --config
    configs/gan/fashion_conditional.yaml``) and ``{nz, ngf, nc, num_classes}`` read off its
    shapes: ``convs.0.weight`` (nz, 4ngf, 4, 4), ``convs.3.weight`` (ngf, nc, 4, 4),
    ``norms.0.gain.weight`` (classes, 4ngf)."""
    source, state = read_state(path_or_state)
    first, last = state.get("convs.0.weight"), state.get("convs.3.weight")
    gain = state.get("norms.0.gain.weight")
    if first is None or last is None or gain is None or first.dim() != 4:
        raise CheckpointError(f"{source} is not a conditional DCGAN generator (latest_net_G.pth "
                              "of tools/train_gan.py --config configs/gan/fashion_conditional"
                              f".yaml): its first keys are {', '.join(list(state)[:4]) or '(none)'}")
    info = {"nz": first.shape[0], "ngf": last.shape[0], "nc": last.shape[1],
            "num_classes": gain.shape[0]}
    model = load_matching(ConditionalDCGANGenerator(**info), state, source,
                          "conditional DCGAN generator")
    return model.to(device).eval(), info


def load_projection_discriminator(path_or_state, device: str | torch.device = "cpu"
                                  ) -> tuple[ProjectionDCGANDiscriminator, dict]:
    """The projection discriminator of a conditional DCGAN ``.pth`` and
    ``{ndf, nc, num_classes}``: ``main.0.weight`` (ndf, nc, 4, 4), ``embed.weight``
    (classes, 4ndf)."""
    source, state = read_state(path_or_state)
    first, embed = state.get("main.0.weight"), state.get("embed.weight")
    if first is None or embed is None:
        raise CheckpointError(f"{source} is not a projection discriminator (latest_net_D.pth "
                              "of a conditional DCGAN): its first keys are "
                              f"{', '.join(list(state)[:4]) or '(none)'}")
    info = {"ndf": first.shape[0], "nc": first.shape[1], "num_classes": embed.shape[0]}
    model = load_matching(ProjectionDCGANDiscriminator(**info), state, source,
                          "projection discriminator")
    return model.to(device), info


def save_conditional_state(model: nn.Module, path: str | Path) -> None:
    """The plain CPU state_dict, as the DCGAN files."""
    save_dcgan_state(model, path)


__all__ = ["ConditionalBatchNorm2d", "ConditionalDCGANGenerator", "FixedLabels",
           "ProjectionDCGANDiscriminator", "check_labels", "load_conditional_generator",
           "load_projection_discriminator", "save_conditional_state"]

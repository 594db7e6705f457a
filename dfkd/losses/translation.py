"""Losses of generator distillation on images (image translation; METHODS.md section 7):
pure functions of images or of lists of feature maps.

- style: L1 between Gram matrices G(f) = f·fᵀ / (C·H·W) (Gatys et al. 2016; OMGD's form,
  Ren et al. ICCV 2021, and DCD's, Hu et al. CVPR 2023);
- feature (perceptual content): L1 between feature maps (Johnson et al. 2016 use MSE; OMGD
  and DCD use L1);
- total variation: Σ |x_{i+1,j} − x_{i,j}| + |x_{i,j+1} − x_{i,j}| summed over the image
  (OMGD's TV term, a sum, not a mean);
- SSIM loss 1 − SSIM(a, b) (Wang et al. 2004), differentiable;
- the discriminator triplet loss of Chen et al. (AAAI 2020):
  [‖D̂(y) − D̂(G_T(x))‖₁ − ‖D̂(y) − D̂(G_S(x))‖₁ + α]₊.
"""
from __future__ import annotations

import kornia
import torch
import torch.nn.functional as F


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """G = f·fᵀ / (C·H·W) per image, for maps ``(N, C, H, W)``: ``(N, C, C)``."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def style_loss(student_maps: list[torch.Tensor], teacher_maps: list[torch.Tensor]
               ) -> torch.Tensor:
    """Σ_l mean |G(s_l) − G(t_l)| over the layers' Gram matrices (element mean)."""
    _check_layers(student_maps, teacher_maps)
    return sum(F.l1_loss(gram_matrix(s), gram_matrix(t))
               for s, t in zip(student_maps, teacher_maps))


def feature_loss(student_maps: list[torch.Tensor], teacher_maps: list[torch.Tensor]
                 ) -> torch.Tensor:
    """Σ_l mean |s_l − t_l| over the layers (element mean)."""
    _check_layers(student_maps, teacher_maps)
    return sum(F.l1_loss(s, t) for s, t in zip(student_maps, teacher_maps))


def total_variation_loss(images: torch.Tensor) -> torch.Tensor:
    """Σ over the batch, channels and pixels of |vertical| + |horizontal| neighbour
    differences (anisotropic TV, a sum)."""
    return kornia.losses.total_variation(images, reduction="sum").sum()


def ssim_loss(images: torch.Tensor, target: torch.Tensor, data_range: float = 2.0,
              low: float = -1.0, window_size: int = 11) -> torch.Tensor:
    """1 − SSIM(images, target) (Gaussian window, σ 1.5, K1 0.01, K2 0.03, "same" padding),
    the mean over pixels, channels and the batch. Images are mapped to [0, 1] by
    (x − low) / data_range first (the defaults take [−1, 1] generator outputs)."""
    if images.shape != target.shape:
        raise ValueError(f"SSIM compares images of one shape, got {tuple(images.shape)} and "
                         f"{tuple(target.shape)}")
    x, y = ((t - low) / data_range for t in (images, target))
    return 1.0 - kornia.metrics.ssim(x, y, window_size, max_val=1.0).mean()


def triplet_discriminator_loss(real: torch.Tensor, teacher_fake: torch.Tensor,
                               student_fake: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Chen et al. (AAAI 2020): the student discriminator's outputs D̂ (any shape, per image)
    should put the real image y closer to the teacher's output than to the student's,
    [mean|D̂(y) − D̂(G_T(x))| − mean|D̂(y) − D̂(G_S(x))| + α]₊ per image, averaged."""
    if not real.shape == teacher_fake.shape == student_fake.shape:
        raise ValueError("the triplet's three discriminator outputs must have one shape, got "
                         f"{tuple(real.shape)}, {tuple(teacher_fake.shape)}, "
                         f"{tuple(student_fake.shape)}")
    positive = (real - teacher_fake).abs().flatten(1).mean(1)
    negative = (real - student_fake).abs().flatten(1).mean(1)
    return F.relu(positive - negative + margin).mean()


def _check_layers(student_maps: list[torch.Tensor], teacher_maps: list[torch.Tensor]) -> None:
    if len(student_maps) != len(teacher_maps):
        raise ValueError(f"{len(student_maps)} student maps against {len(teacher_maps)} "
                         "teacher maps: give one of each per layer")
    for s, t in zip(student_maps, teacher_maps):
        if s.shape != t.shape:
            raise ValueError(f"a student map {tuple(s.shape)} against a teacher map "
                             f"{tuple(t.shape)}: map them to one shape first")

"""Adversarial losses (METHODS.md section 6) as pure functions of discriminator outputs.

``mode``: ``vanilla`` (BCE on logits, Goodfellow et al. 2014; pix2pix), ``lsgan``
(least squares, Mao et al. 2017; CycleGAN), ``hinge`` (Lim & Ye 2017; Miyato et al.
2018), ``wgangp`` (Wasserstein critic, Gulrajani et al. 2017: −D(real) + D(fake) for the
critic, −D(fake) for the generator, plus ``gradient_penalty``, eq. 3, λ = 10, which
:func:`discriminator_loss` adds to the whole critic term, as Algorithm 1 does).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import ConfigError

GAN_MODES = ("vanilla", "lsgan", "hinge", "wgangp")


def gan_loss(prediction: torch.Tensor, target_is_real: bool, mode: str = "lsgan",
             for_discriminator: bool = True) -> torch.Tensor:
    """The loss of raw discriminator outputs (any shape, e.g. PatchGAN maps) against the
    label real/fake, averaged over elements: vanilla BCE-with-logits against 1/0; LSGAN
    (x − 1)² / x²; hinge: the discriminator's max(0, 1 ∓ x), the generator's −x (its
    ``target_is_real`` must be True)."""
    if mode == "vanilla":
        target = torch.full_like(prediction, 1.0 if target_is_real else 0.0)
        return F.binary_cross_entropy_with_logits(prediction, target)
    if mode == "lsgan":
        return (prediction - (1.0 if target_is_real else 0.0)).pow(2).mean()
    if mode == "hinge":
        if not for_discriminator:
            if not target_is_real:
                raise ValueError("the hinge generator loss only asks for 'real' (−mean D(G(z)))")
            return -prediction.mean()
        return F.relu(1.0 - prediction).mean() if target_is_real else F.relu(1.0 + prediction).mean()
    if mode == "wgangp":
        if not for_discriminator and not target_is_real:
            raise ValueError("the WGAN generator loss only asks for 'real' (−mean D(G(z)))")
        return -prediction.mean() if target_is_real else prediction.mean()
    raise ValueError(f"unknown GAN loss {mode!r}; use one of: {', '.join(GAN_MODES)}")


def discriminator_loss(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                       mode: str, gp_weight: float = 10.0) -> dict[str, torch.Tensor]:
    """A discriminator's step on real and (detached) fake inputs, as pix2pix/CycleGAN take
    it: ½[L(D(real), real) + L(D(fake), fake)]; in mode ``wgangp`` the critic's loss of
    WGAN-GP's Algorithm 1, D(fake) − D(real) + ``gp_weight`` × the gradient penalty, without
    the ½ (which would leave the penalty's λ = 10 acting as 20 against the critic term).
    Returns ``{"loss", "real", "fake"[, "gp"]}``."""
    real_loss = gan_loss(discriminator(real), True, mode)
    fake_loss = gan_loss(discriminator(fake), False, mode)
    losses = {"loss": 0.5 * (real_loss + fake_loss), "real": real_loss, "fake": fake_loss}
    if mode == "wgangp":
        losses["gp"] = gradient_penalty(discriminator, real, fake, gp_weight)
        losses["loss"] = real_loss + fake_loss + losses["gp"]
    return losses


def gradient_penalty(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     weight: float = 10.0) -> torch.Tensor:
    """WGAN-GP: weight · mean (‖∇_x̂ D(x̂)‖₂ − 1)², x̂ = ε·real + (1 − ε)·fake, ε ~ U[0, 1]
    per sample; differentiable with respect to D's parameters."""
    eps = torch.rand(len(real), *[1] * (real.dim() - 1), device=real.device, dtype=real.dtype)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    out = discriminator(mixed)
    (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    return weight * (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def check_gan_mode(mode: str) -> None:
    """A ConfigError now, rather than a ValueError at the first step, for a bad mode."""
    try:
        gan_loss(torch.zeros(1), True, mode)
    except ValueError as exc:
        raise ConfigError(f"gan_mode: {exc}") from None

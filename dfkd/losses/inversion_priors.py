"""Image priors and the competition divergence of model inversion (DeepInversion, Yin et al.,
CVPR 2020, arXiv 1912.08795, sections 3.2-3.3), as pure functions on a batch (N, C, H, W).

DeepInversion optimizes pixels x̂ against
    CE(T(x̂), y) + R_prior(x̂) + α_f·R_feature(x̂),  R_prior = α_tv·R_TV(x̂) + α_l2·R_ℓ2(x̂)
and Adaptive DeepInversion adds α_c·R_compete = α_c·(1 − JS(p_T(x̂), p_S(x̂))).
R_feature is :func:`dfkd.losses.bn_prior.bn_statistics_loss`; here are the others.
The method section of the paper could not be read here: the TV and ℓ2 forms follow the
official code (NVlabs/DeepInversion, ``cifar10/deepinversion_cifar10.py`` and
``deepinversion.py::get_image_prior_losses``), the JS divergence its textbook definition
with the arguments the paper writes (the code swaps them, see :func:`js_divergence`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _differences(images: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Neighbour differences of every pixel in four directions: horizontal, vertical and
    the two diagonals (NVlabs ``diff1`` … ``diff4``)."""
    return (images[..., :, :-1] - images[..., :, 1:],
            images[..., :-1, :] - images[..., 1:, :],
            images[..., 1:, :-1] - images[..., :-1, 1:],
            images[..., :-1, :-1] - images[..., 1:, 1:])


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """R_TV of DeepInversion: Σ_d ‖Δ_d x̂‖_F over the four directions d (horizontal,
    vertical, both diagonals), each a Frobenius norm over the whole batch, not squared
    (NVlabs ``loss_var_l2``, weighted by ``--di_var_scale`` 2.5e-5 for CIFAR-10)."""
    return sum(torch.linalg.vector_norm(d) for d in _differences(images))


def total_variation_l1(images: torch.Tensor) -> torch.Tensor:
    """The ℓ1 variant: Σ_d mean |Δ_d x̂| over the same four directions (NVlabs
    ``loss_var_l1`` for ImageNet; the DataFree reimplementation's TV, weight 1e-3)."""
    return sum(d.abs().mean() for d in _differences(images))


def image_l2(images: torch.Tensor) -> torch.Tensor:
    """R_ℓ2 = ‖x̂‖₂: the Frobenius norm of the whole batch, not squared (NVlabs CIFAR-10
    code, ``torch.norm(inputs_jit, 2)``; its ImageNet code averages per-image norms)."""
    return torch.linalg.vector_norm(images)


def js_divergence(logits_a: torch.Tensor, logits_b: torch.Tensor,
                  temperature: float = 1.0) -> torch.Tensor:
    """JS(p_a ‖ p_b) = ½·KL(p_a ‖ M) + ½·KL(p_b ‖ M), M = ½(p_a + p_b), p = softmax(logits/τ),
    per sample in nats (0 for equal distributions, at most ln 2), averaged over the batch.

    Symmetric in its arguments. This is the divergence ADI's competition term uses
    (section 3.3, R_compete = 1 − JS(p_T, p_S), τ = 3 in the code). The official code
    computes ½·KL(M ‖ p_S) + ½·KL(M ‖ p_T) instead (``nn.KLDivLoss(log p, M)`` is KL(M ‖ p)),
    on probabilities clamped to [0.01, 0.99]; here the paper's form, unclamped."""
    log_p = F.log_softmax(logits_a / temperature, dim=1)
    log_q = F.log_softmax(logits_b / temperature, dim=1)
    log_m = torch.logsumexp(torch.stack([log_p, log_q]), dim=0) - math.log(2.0)
    kl_pm = (log_p.exp() * (log_p - log_m)).sum(dim=1)
    kl_qm = (log_q.exp() * (log_q - log_m)).sum(dim=1)
    return (0.5 * (kl_pm + kl_qm)).mean()

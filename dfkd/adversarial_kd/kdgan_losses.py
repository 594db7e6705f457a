"""KDGAN's losses (Wang, Zhang, Sun, Qi, "KDGAN: Knowledge Distillation with Generative
Adversarial Networks", NeurIPS 2018) as pure functions of logits.

The discriminator D(x, y) of the paper is a classifier network whose y-th logit, through a
sigmoid, is the probability that label y of image x is a true label (the authors' MNIST
code: ``sigmoid(D(x))[y]``). Pseudo labels ỹ come from the student's (or teacher's)
*concrete* distribution (the authors' draft, kept in their repository): softmax((log p + g)/τ),
g = −log(−log u), u ~ U(0, 1), discretized to one-hot in the forward pass while the
continuous sample carries the gradient (straight-through; "we discretize the continuous
samples ... in the forward pass and use the continuous samples to compute the gradients in
the backward pass"). D's score of (x, ỹ) is then ⟨D(x), ỹ⟩: the ỹ-th logit forward, and a
gradient D(x) for the sample.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from dfkd.losses.logits import kd_kl

DISTILL = ("l2", "kl")


def gumbel_softmax_sample(logits: torch.Tensor, tau: float,
                          uniform: torch.Tensor | None = None) -> torch.Tensor:
    """A straight-through concrete sample of labels from softmax(``logits``) (Jang et al.
    2017; Maddison et al. 2017): one-hot argmax((log p + g)/τ) forward, the gradient of
    y_soft = softmax((log p + g)/τ) backward. ``uniform``: the u ~ U(0, 1) draws, (N, K)
    (default: drawn from torch's global generator, so a resumed run draws the same)."""
    log_p = F.log_softmax(logits, dim=1)
    if uniform is None:
        uniform = torch.rand_like(log_p)
    tiny = torch.finfo(log_p.dtype).tiny
    gumbel = -torch.log(-torch.log(uniform.clamp(tiny, 1.0 - 1e-7)))
    soft = F.softmax((log_p + gumbel) / tau, dim=1)
    hard = F.one_hot(soft.argmax(dim=1), logits.shape[1]).to(soft.dtype)
    return hard - soft.detach() + soft


def label_scores(d_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The logit of D(x, y) for (N, K) discriminator logits and (N, K) one-hot (or
    straight-through) labels: ⟨D(x), y⟩, i.e. D's y-th logit; σ of it is D(x, y)."""
    return (d_logits * labels).sum(dim=1)


def discriminator_loss(d_logits: torch.Tensor, true_labels: torch.Tensor,
                       student_labels: torch.Tensor, teacher_labels: torch.Tensor,
                       alpha: float) -> dict[str, torch.Tensor]:
    """D's side of the objective (METHODS.md section 7): −(log D(x, y) + α·log(1 − D(x, ỹ_s)) + (1 − α)·log(1 − D(x, ỹ_t))),
    batch means; ``true_labels`` (N,) class indices, the pseudo labels (N, K) one-hot."""
    real = F.one_hot(true_labels, d_logits.shape[1]).to(d_logits.dtype)
    parts = {"real": F.softplus(-label_scores(d_logits, real)).mean(),  # −log σ(s)
             "student": F.softplus(label_scores(d_logits, student_labels)).mean(),  # −log(1−σ)
             "teacher": F.softplus(label_scores(d_logits, teacher_labels)).mean()}
    loss = parts["real"] + alpha * parts["student"] + (1 - alpha) * parts["teacher"]
    return {"loss": loss, **parts}


def classifier_adversarial_loss(scores: torch.Tensor, nonsaturating: bool = True) -> torch.Tensor:
    """A classifier's adversarial loss on D's logits ``scores`` of its pseudo labels:
    the paper's E[log(1 − D(x, ỹ))] = −softplus(s) to minimise, or, ``nonsaturating``, the
    −log D(x, ỹ) = softplus(−s) Goodfellow et al. 2014 advise (same fixed point, no vanishing
    gradient while D wins)."""
    return F.softplus(-scores).mean() if nonsaturating else -F.softplus(scores).mean()


def logit_l2(logits: torch.Tensor, target_logits: torch.Tensor) -> torch.Tensor:
    """Ba & Caruana 2014's logit regression, KDGAN's distillation loss L_DS in its reported
    results: ½‖z − z'‖² per image, batch mean (``target_logits`` detached)."""
    return 0.5 * (logits - target_logits.detach()).pow(2).sum(dim=1).mean()


def distillation_loss(logits: torch.Tensor, target_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """L_DS(· ← target): ``l2`` (:func:`logit_l2`) or ``kl`` (KL(p_target ‖ p), Hinton et al.
    2015 at τ 1, the alternative the paper found comparable)."""
    if kind == "l2":
        return logit_l2(logits, target_logits)
    if kind == "kl":
        return kd_kl(logits, target_logits.detach(), 1.0)
    raise ValueError(f"unknown distillation loss {kind!r}; use one of {', '.join(DISTILL)}")


def gumbel_temperature(epoch: int, start: float, end: float, decay: float) -> float:
    """τ of the concrete distribution at ``epoch`` (from 0): ``start``·``decay``^epoch, never
    below ``end`` (the authors' MNIST code: 10 → 0.1 by × 0.88)."""
    return max(end, start * decay ** epoch)

"""The two synthesis terms of CMI (Contrastive Model Inversion, Fang et al., IJCAI 2021,
arXiv 2105.08584), as pure functions.

The paper's method section could not be read here (only its abstract); both terms are
written from the official code (zju-vipa/CMI @ 9e79fa9, ``datafree/synthesis/contrastive.py``):

- :func:`instance_contrast`, L_cr: instance discrimination between a local crop and a global
  view of each synthesized image. Row i of the local embeddings must pick its own global
  embedding out of all global ones (the current batch's and those of past batches drawn
  from the memory bank), an InfoNCE at temperature τ_cr:
      ℓ_i = −log( exp(l_i·g_i / τ) / Σ_j exp(l_i·g_j / τ) ),   g detached,
      L_cr = mean_{i ∈ batch} ℓ_i + mean_{i ∈ bank} ℓ_i
  (the two means are taken apart "to avoid too small gradients w.r.t. the generator",
  as the code says; with an empty bank it is the batch's mean alone).
- :func:`agreement_adversarial_kl`, L_adv: the "decision adversarial" term. The generator
  seeks samples on which the student still departs from the teacher, but only those the
  student already classifies as the teacher does (a disagreeing sample is left alone):
      L_adv = −(1/N) Σ_i 1[argmax s_i = argmax t_i] · KL(p_T(x_i) ‖ p_S(x_i))
  (the mean is over all N samples, not over the agreeing ones, as in the code).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from dfkd.losses.agreement import agreement_masked_kl


def instance_contrast(local: torch.Tensor, global_: torch.Tensor, temperature: float,
                      current: int | None = None) -> torch.Tensor:
    """CMI's L_cr: InfoNCE of local against global embeddings, row i's positive ``global_[i]``.

    ``local``, ``global_``: (M, D) L2-normalized embeddings, rows matched; the first
    ``current`` rows are the batch being synthesized, the rest come from the memory bank
    (``current`` None or M: no bank rows). The global side is detached: only the local
    branch carries gradients. Returns the batch rows' mean plus the bank rows' mean.
    """
    if local.shape != global_.shape or local.dim() != 2:
        raise ValueError(f"local and global embeddings must both be (M, D) with the same shape; "
                         f"got {tuple(local.shape)} and {tuple(global_.shape)}")
    if temperature <= 0:
        raise ValueError(f"the contrast temperature must be positive, got {temperature}")
    rows = len(local)
    current = rows if current is None else current
    if not 0 < current <= rows:
        raise ValueError(f"current must count 1..{rows} batch rows, got {current}")
    logits = local @ global_.detach().T / temperature
    per_row = F.cross_entropy(logits, torch.arange(rows, device=local.device), reduction="none")
    if current == rows:
        return per_row.mean()
    return per_row[:current].mean() + per_row[current:].mean()


def agreement_adversarial_kl(student_logits: torch.Tensor,
                             teacher_logits: torch.Tensor) -> torch.Tensor:
    """CMI's L_adv = −mean_i 1[S and T agree on x_i]·KL(p_T(x_i) ‖ p_S(x_i)), τ = 1, averaged
    over all N samples (``dfkd.losses.agreement``); minimizing it drives the agreeing
    samples toward the student's decision boundary."""
    return -agreement_masked_kl(student_logits, teacher_logits)

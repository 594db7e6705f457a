"""Losses between teacher and student logits (output knowledge). Pure functions."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def kd_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
          temperature: float = 1.0) -> torch.Tensor:
    """Hinton et al. 2015: τ²·KL(softmax(t/τ) ‖ softmax(s/τ)), averaged over the batch.

    DAFL's student loss is this with τ = 1.
    """
    log_p_s = F.log_softmax(student_logits / temperature, dim=1)
    log_p_t = F.log_softmax(teacher_logits / temperature, dim=1)
    kl = F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True)
    return kl * temperature ** 2


def logit_l1(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """DFAD (Fang et al. 2019, eq. 3): mean absolute error ‖t − s‖₁ / (N·K) between logits."""
    return F.l1_loss(student_logits, teacher_logits)


def _check_logits_targets(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                          targets: torch.Tensor) -> None:
    if student_logits.dim() != 2 or student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student and teacher logits must both be (N, K) with the same shape; "
                         f"got {tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}")
    n, k = student_logits.shape
    if k < 2:
        raise ValueError(f"decoupled KD needs at least 2 classes; got logits of shape ({n}, {k})")
    if targets.shape != (n,):
        raise ValueError(f"targets must have shape ({n},) to match logits {tuple(student_logits.shape)}; "
                         f"got {tuple(targets.shape)}")


def dkd_parts(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor,
              temperature: float = 4.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(TCKD, NCKD) of Decoupled KD (Zhao et al., CVPR 2022, eqs. 6-7), each τ²-scaled and
    averaged over the batch.

    TCKD = KL(b_T ‖ b_S) with b = [p_t, 1 − p_t], p = softmax(z/τ) and t the target class;
    NCKD = KL(p̂_T ‖ p̂_S) with p̂ = softmax over the K − 1 non-target logits / τ. Computed in
    log space: log(1 − p_t) = logsumexp(non-target z/τ) − logsumexp(z/τ); the non-target
    logits are gathered (no −1000 mask), so both parts are exact for any logit scale.
    """
    _check_logits_targets(student_logits, teacher_logits, targets)
    n, k = student_logits.shape
    target_mask = F.one_hot(targets.long(), k).bool()

    def split(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = logits / temperature
        log_all = torch.logsumexp(z, dim=1)
        other = z[~target_mask].view(n, k - 1)       # row order is kept by boolean indexing
        log_other = torch.logsumexp(other, dim=1)
        log_binary = torch.stack([z[target_mask] - log_all, log_other - log_all], dim=1)
        return log_binary, F.log_softmax(other, dim=1)

    bin_s, non_s = split(student_logits)
    bin_t, non_t = split(teacher_logits)
    scale = temperature ** 2
    tckd = F.kl_div(bin_s, bin_t, reduction="batchmean", log_target=True) * scale
    nckd = F.kl_div(non_s, non_t, reduction="batchmean", log_target=True) * scale
    return tckd, nckd


def dkd(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor,
        alpha: float = 1.0, beta: float = 8.0, temperature: float = 4.0) -> torch.Tensor:
    """Decoupled KD (Zhao et al., CVPR 2022, eq. 7): α·TCKD + β·NCKD (see ``dkd_parts``).

    Defaults α = 1, β = 8, τ = 4 are the paper's CIFAR-100 settings.
    """
    tckd, nckd = dkd_parts(student_logits, teacher_logits, targets, temperature)
    return alpha * tckd + beta * nckd


def standardize_logits(logits: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Perception reconstruction (seed 003, §2.2, eqs. 5-6): standardize each class column
    over the batch, h_ij = (z_ij − U_j) / √(V_j + ε).

    U_j, V_j are the batch mean and variance of class j's logits. The seed does not say
    which variance; the biased (population, 1/N) one is used, as BatchNorm does. The seed
    has no ε; it is added inside the root only so a constant column gives 0, not NaN.
    """
    if logits.dim() != 2:
        raise ValueError(f"logits must be (N, K); got shape {tuple(logits.shape)}")
    if logits.shape[0] < 2:
        raise ValueError(f"standardizing logits per class over the batch needs at least 2 samples "
                         f"(the variance of one sample is undefined); got shape {tuple(logits.shape)}")
    mean = logits.mean(dim=0, keepdim=True)
    var = logits.var(dim=0, unbiased=False, keepdim=True)
    return (logits - mean) / torch.sqrt(var + eps)


def pr_dkd(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor,
           alpha: float = 1.0, beta: float = 8.0, temperature: float = 4.0) -> torch.Tensor:
    """Perception-reconstruction DKD (seed 003, eq. 13): α·RTKD + β·RNKD, i.e. ``dkd`` on the
    column-standardized teacher and student logits (eqs. 5-6), each standardized over its
    own batch; softmax at temperature T (eqs. 7-10) and the decomposition of eq. 12.

    α = 1, β = 8 are the seed's (§3.2). The seed gives no value for T; τ = 4 is DKD's.
    Raises ValueError for a batch of one (per-class variance undefined).
    """
    _check_logits_targets(student_logits, teacher_logits, targets)
    return dkd(standardize_logits(student_logits), standardize_logits(teacher_logits), targets,
               alpha=alpha, beta=beta, temperature=temperature)


def virtual_teacher_kd(student_logits: torch.Tensor, targets: torch.Tensor,
                       correct_prob: float = 0.9, temperature: float = 20.0) -> torch.Tensor:
    """Tf-KD_reg (Yuan et al., CVPR 2020, "Revisiting KD via label smoothing regularization"):
    the KD term against a hand-made virtual teacher.

    p_v(k) = a for the true class and (1 − a)/(K − 1) otherwise (a = ``correct_prob``).
    Returned: τ²·KL(softmax(log p_v / τ) ‖ softmax(s / τ)), averaged over the batch, i.e.
    the virtual teacher is softened like a teacher whose logits are log p_v. The paper's
    loss is (1 − α)·CE + α·this term; the CE part is left to the caller. (The official code
    instead takes softmax(p_v / τ), an untempered student and an element-mean KL; this
    function follows the paper's p^d_τ ‖ p_τ reading.)
    """
    if student_logits.dim() != 2 or student_logits.shape[1] < 2:
        raise ValueError(f"student logits must be (N, K) with K >= 2; got {tuple(student_logits.shape)}")
    n, k = student_logits.shape
    if targets.shape != (n,):
        raise ValueError(f"targets must have shape ({n},) to match logits {tuple(student_logits.shape)}; "
                         f"got {tuple(targets.shape)}")
    if not 0.0 < correct_prob < 1.0:
        raise ValueError(f"correct_prob must be in (0, 1); got {correct_prob}")
    other = torch.full((n, k), math.log((1.0 - correct_prob) / (k - 1)),
                       dtype=student_logits.dtype, device=student_logits.device)
    log_virtual = other.scatter(1, targets.long().view(-1, 1), math.log(correct_prob))
    log_p_v = F.log_softmax(log_virtual / temperature, dim=1)
    log_p_s = F.log_softmax(student_logits / temperature, dim=1)
    return F.kl_div(log_p_s, log_p_v, reduction="batchmean", log_target=True) * temperature ** 2

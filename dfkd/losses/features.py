"""Losses on intermediate feature maps (feature knowledge). Pure functions."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F


def attention_map(features: torch.Tensor) -> torch.Tensor:
    """Spatial attention of a feature map (Zagoruyko & Komodakis 2017, eq. 2 with p = 2):
    a = mean_c A_c², flattened and L2-normalized per sample. (N, C, H, W) -> (N, H·W)."""
    return F.normalize(features.pow(2).mean(dim=1).flatten(1), dim=1)


def attention_transfer(student_features: Sequence[torch.Tensor],
                       teacher_features: Sequence[torch.Tensor]) -> torch.Tensor:
    """Σ_l mean_{n,j} (a_S^l − a_T^l)², summed over the feature groups l.

    The squared difference of normalized attention maps, averaged over batch and positions,
    as in the public code of AT and ZSKT (Micaelli & Storkey 2019), whose weight β = 250
    is calibrated to this form. Channel counts may differ; spatial sizes must match.
    """
    if len(student_features) != len(teacher_features):
        raise ValueError(f"attention transfer needs as many student as teacher feature maps, "
                         f"got {len(student_features)} and {len(teacher_features)}")
    total = student_features[0].new_zeros(())
    for s, t in zip(student_features, teacher_features):
        if s.shape[-2:] != t.shape[-2:]:
            raise ValueError(f"attention maps differ in size: student {tuple(s.shape[-2:])}, "
                             f"teacher {tuple(t.shape[-2:])}")
        total = total + (attention_map(s) - attention_map(t)).pow(2).mean()
    return total


def _check_batch(name: str, student: torch.Tensor, teacher: torch.Tensor,
                 minimum: int = 1) -> None:
    if student.shape[0] != teacher.shape[0]:
        raise ValueError(f"{name} needs as many student as teacher samples, "
                         f"got {student.shape[0]} and {teacher.shape[0]}")
    if student.shape[0] < minimum:
        raise ValueError(f"{name} needs a batch of at least {minimum} samples, "
                         f"got {student.shape[0]}")


def _check_same_shape(name: str, student: torch.Tensor, teacher: torch.Tensor) -> None:
    if student.shape != teacher.shape:
        raise ValueError(f"{name} needs equal shapes: student {tuple(student.shape)}, "
                         f"teacher {tuple(teacher.shape)}")


def hint_loss(student_projected: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """FitNet (Romero et al. 2015, eq. 3): ‖u_h − r(v_g)‖², the regressor's output r(v_g)
    against the teacher's hint u_h, as a mean over elements (the paper's ½·sum differs
    by a constant factor). Shapes must match."""
    _check_same_shape("hint loss (regressor output vs teacher hint)", student_projected, teacher)
    return F.mse_loss(student_projected, teacher)


def similarity_preserving(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """SP (Tung & Mori 2019, eqs. 2-4): G = A·Aᵀ of the flattened features A (N, ·), each row
    L2-normalized; loss ‖G_S − G_T‖²_F / N². Feature sizes may differ."""
    _check_batch("similarity-preserving loss", student, teacher)
    n = student.shape[0]

    def gram(x: torch.Tensor) -> torch.Tensor:
        a = x.reshape(n, -1)
        return F.normalize(a @ a.t(), dim=1)

    return (gram(student) - gram(teacher)).pow(2).sum() / n ** 2


def _cosine_conditionals(x: torch.Tensor, eps: float) -> torch.Tensor:
    x = x.reshape(x.shape[0], -1)
    x = x / (x.norm(dim=1, keepdim=True) + eps)
    kernel = (x @ x.t() + 1.0) / 2.0  # cosine similarity mapped to [0, 1]
    return kernel / kernel.sum(dim=1, keepdim=True)


def probabilistic_knowledge_transfer(student: torch.Tensor, teacher: torch.Tensor,
                                     eps: float = 1e-7) -> torch.Tensor:
    """PKT (Passalis & Tefas 2018, eqs. 9-11 with the cosine kernel): row-normalized kernels
    p_{j|i} = K(i, j) / Σ_k K(i, k), K = (cos + 1)/2 of the embeddings, and
    KL(P_T ‖ P_S) = Σ p_T log((p_T + eps)/(p_S + eps)).

    Follows the authors' code (passalis/probabilistic_kt): the diagonal stays in the
    kernel and the KL terms are averaged over the N² pairs, i.e. the paper's sum / N²,
    the scale the usual weight (30 000 in RepDistiller) is calibrated to.
    """
    _check_batch("PKT", student, teacher)
    p_s = _cosine_conditionals(student, eps)
    p_t = _cosine_conditionals(teacher, eps)
    return (p_t * torch.log((p_t + eps) / (p_s + eps))).mean()


def neuron_selectivity_transfer(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """NST (Huang & Wang 2017, eq. 4 with the polynomial kernel k(x, y) = (xᵀy)², d = 2, c = 0):
    MMD² = mean k(s_i, s_i') + mean k(t_j, t_j') − 2·mean k(s_i, t_j) between the channel
    vectors (each over the H·W positions, L2-normalized) of one sample; mean over the batch.
    Channel counts may differ; spatial sizes must match."""
    _check_batch("NST", student, teacher)
    if student.dim() < 3 or student.shape[2:] != teacher.shape[2:]:
        raise ValueError(f"NST needs feature maps of the same spatial size: "
                         f"student {tuple(student.shape)}, teacher {tuple(teacher.shape)}")
    s = F.normalize(student.flatten(2), dim=2)
    t = F.normalize(teacher.flatten(2), dim=2)

    def kernel_mean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a @ b.transpose(1, 2)).pow(2).mean(dim=(1, 2))

    return (kernel_mean(s, s) + kernel_mean(t, t) - 2 * kernel_mean(s, t)).mean()


def factor_transfer(student_factor: torch.Tensor, teacher_factor: torch.Tensor) -> torch.Tensor:
    """FT (Kim et al. 2018, eq. 3, p = 1): |F_T/‖F_T‖₂ − F_S/‖F_S‖₂| of the flattened factors
    of each sample (the translator's and the paraphraser's outputs), averaged over the batch
    and the factor's elements: the paper's per-sample L1 divided by the factor size, the
    scale of the published code, to which the usual weight β = 200 is calibrated."""
    _check_same_shape("factor transfer", student_factor, teacher_factor)
    n = student_factor.shape[0]
    s = F.normalize(student_factor.reshape(n, -1), dim=1)
    t = F.normalize(teacher_factor.reshape(n, -1), dim=1)
    return (s - t).abs().mean()


def activation_boundary(student: torch.Tensor, teacher: torch.Tensor,
                        margin: float = 1.0) -> torch.Tensor:
    """AB (Heo et al. 2019, eq. 5): a squared hinge that pushes each pre-ReLU student response
    σ_s (after the connector) to the teacher's side of the activation boundary by a margin μ:
    (σ_s + μ)²·1[σ_s > −μ]·1[t ≤ 0] + (σ_s − μ)²·1[σ_s ≤ μ]·1[t > 0], t the teacher's
    pre-ReLU response. Mean over all elements (the paper sums; RepDistiller sums and divides
    by the batch size)."""
    _check_same_shape("activation boundary loss", student, teacher)
    on = teacher > 0
    loss = torch.where(on, (student - margin).pow(2) * (student <= margin),
                       (student + margin).pow(2) * (student > -margin))
    return loss.mean()


def variational_information(student_mean: torch.Tensor, teacher: torch.Tensor,
                            log_scale: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """VID (Ahn et al. 2019, eq. 6): Gaussian negative log-likelihood of the teacher features t
    under N(μ(s), σ²), σ²_c = softplus(α_c) + eps per channel (α = ``log_scale``, shape (C,)):
    mean over elements of ½·(log σ² + (t − μ)²/σ²). The constant ½·log 2π is dropped."""
    _check_same_shape("VID (predicted mean vs teacher)", student_mean, teacher)
    channels = teacher.shape[1] if teacher.dim() > 1 else 1
    if log_scale.shape != (channels,):
        raise ValueError(f"VID log_scale must have one entry per channel, shape ({channels},), "
                         f"got {tuple(log_scale.shape)}")
    var = F.softplus(log_scale) + eps
    var = var.reshape(1, channels, *([1] * (teacher.dim() - 2)))
    return 0.5 * (torch.log(var) + (teacher - student_mean).pow(2) / var).mean()


def _top_singular(features: torch.Tensor, k: int, side: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k singular vectors (as columns) and values of each sample's (H·W × C) matrix X.

    The basis comes from torch.linalg.svd without gradient; the gradient flows through the
    identities v_j = Xᵀu_j/σ_j (right) or u_j = X v_j/σ_j (left), recomputed with
    normalization, so forward values are the exact singular vectors while the backward
    avoids the SVD's 1/(σ_i² − σ_j²) terms, infinite for repeated (e.g. zero) singular values.
    A vector whose singular value is 0 comes out as the zero vector.
    """
    x = features.flatten(2).transpose(1, 2)  # (N, HW, C)
    with torch.no_grad():
        low = x.dtype in (torch.float16, torch.bfloat16)  # no half-precision SVD
        u, s, vh = torch.linalg.svd(x.detach().float() if low else x.detach(),
                                    full_matrices=False)
        u, s, v = (a.to(x.dtype) for a in (u[..., :k], s[:, :k], vh[:, :k].transpose(1, 2)))
    if side == "right":
        return F.normalize(x.transpose(1, 2) @ u, dim=1), s  # (N, C, k)
    return F.normalize(x @ v, dim=1), s  # (N, HW, k)


def kdsvd(student: torch.Tensor, teacher: torch.Tensor, k: int = 1, *,
          side: str = "right") -> torch.Tensor:
    """KD-SVD (Lee et al. 2018), single layer-pair form.

    Each sample's feature map (C, H, W) is read as the (H·W × C) matrix X = UΣVᵀ; the top-k
    singular vectors are kept (``side="right"``: V, over channels, the paper's compressed
    feature; ``"left"``: U, over positions, channel-agnostic like AT). The student's vectors
    are sign-aligned to the teacher's (sign of their inner product; SVD signs are arbitrary),
    and the loss is mean_n Σ_j w_j²‖±v_S,j − v_T,j‖², w the teacher's top-k singular values
    L2-normalized (the paper weights vectors by the normalized singular values), so it
    lies in [0, 4] and is 0 when the subspaces agree.

    Simplifications against the paper: one layer pair instead of the RBF correlation of
    singular vectors of consecutive layers; student vectors paired by index, not by the best
    match among k + 3 candidates; gradients through a singular-pair identity (see
    ``_top_singular``) instead of the SVD's own backward.
    """
    _check_batch("KD-SVD", student, teacher)
    if side not in ("right", "left"):
        raise ValueError(f"KD-SVD side must be 'right' or 'left', got {side!r}")
    if student.dim() < 3 or teacher.dim() < 3:
        raise ValueError(f"KD-SVD needs feature maps (N, C, H, W): student "
                         f"{tuple(student.shape)}, teacher {tuple(teacher.shape)}")
    c_s, c_t = student.shape[1], teacher.shape[1]
    hw_s, hw_t = student[0, 0].numel(), teacher[0, 0].numel()
    if side == "right" and c_s != c_t:
        raise ValueError(f"KD-SVD right singular vectors live over channels: student has {c_s}, "
                         f"teacher {c_t}; use a projection (or side='left')")
    if side == "left" and hw_s != hw_t:
        raise ValueError(f"KD-SVD left singular vectors live over positions: student has {hw_s}, "
                         f"teacher {hw_t}; resize the maps (or side='right')")
    if not 1 <= k <= min(c_s, c_t, hw_s, hw_t):
        raise ValueError(f"KD-SVD k must be in [1, {min(c_s, c_t, hw_s, hw_t)}] "
                         f"(min of channels and positions), got {k}")
    v_s, _ = _top_singular(student, k, side)
    v_t, s_t = _top_singular(teacher, k, side)
    sign = 1 - 2 * ((v_s * v_t).sum(dim=1, keepdim=True) < 0).to(v_s.dtype)  # ±1, no gradient
    weight = F.normalize(s_t, dim=1).detach().unsqueeze(1)  # (N, 1, k)
    return (weight * (sign * v_s - v_t)).pow(2).sum(dim=(1, 2)).mean()

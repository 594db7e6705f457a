"""Losses on relations between samples or layers (relational knowledge).

Pure functions, student first and teacher second, plus the CRD module whose embeddings
and negative queue are learned state.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.losses.features import _check_batch


def _flatten(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1)


def _pairwise_distances(x: torch.Tensor, squared: bool = False,
                        eps: float = 1e-12) -> torch.Tensor:
    """(N, N) Euclidean distances between the flattened rows, zero on the diagonal.
    Clamped at eps before the square root, so the gradient stays finite at coincident rows."""
    x = _flatten(x)
    sq = x.pow(2).sum(dim=1)
    d2 = (sq.unsqueeze(0) + sq.unsqueeze(1) - 2 * x @ x.t()).clamp_min(0 if squared else eps)
    d = d2 if squared else d2.sqrt()
    return d * (1 - torch.eye(x.shape[0], dtype=d.dtype, device=d.device))


def rkd_distance(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """RKD-D (Park et al. 2019, eqs. 4-5): pairwise Euclidean distances of the embeddings,
    each set divided by its mean over the N(N − 1) ordered pairs i ≠ j, compared with the
    Huber loss (δ = 1) and averaged over those pairs. Embedding sizes may differ."""
    _check_batch("RKD distance", student, teacher, 2)
    n = student.shape[0]
    off = ~torch.eye(n, dtype=torch.bool, device=student.device)

    def normalized(x: torch.Tensor) -> torch.Tensor:
        d = _pairwise_distances(x)[off]
        return d / d.mean()

    return F.smooth_l1_loss(normalized(student), normalized(teacher), beta=1.0)


def _triplet_cosines(x: torch.Tensor) -> torch.Tensor:
    """[j, i, k] = cos ∠(e_i − e_j, e_k − e_j), the angle at vertex j."""
    x = _flatten(x)
    e = F.normalize(x.unsqueeze(0) - x.unsqueeze(1), dim=2)  # [j, i] = (x_i − x_j)/‖·‖
    return e @ e.transpose(1, 2)


def rkd_angle(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """RKD-A (Park et al. 2019, eqs. 6-7): cosines of the angles of all triplets (i, j, k),
    vertex j, from the normalized differences e_i − e_j and e_k − e_j; Huber loss (δ = 1)
    averaged over the N(N − 1)² triplets with i ≠ j and k ≠ j (where the angle exists)."""
    _check_batch("RKD angle", student, teacher, 2)
    n = student.shape[0]
    # where i = j or k = j the difference vector is 0, F.normalize keeps it 0 and both
    # cosines are 0: those entries add nothing, so the sum needs no mask (9x faster)
    total = F.smooth_l1_loss(_triplet_cosines(student), _triplet_cosines(teacher), beta=1.0,
                             reduction="sum")
    return total / (n * (n - 1) ** 2)


def fsp_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """FSP (Yim et al. 2017, eq. 1): G_ij = Σ_{h,w} a_{i,h,w}·b_{j,h,w} / (H·W), (N, C_a, C_b).

    When the spatial sizes differ, both maps are adaptive-average-pooled to the smaller
    height and width (the larger one is pooled; the paper's pairs share their size).
    """
    if a.dim() != 4 or b.dim() != 4:
        raise ValueError(f"FSP needs feature maps (N, C, H, W), got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"FSP needs maps of the same batch, got {a.shape[0]} and {b.shape[0]}")
    if a.shape[-2:] != b.shape[-2:]:
        size = (min(a.shape[-2], b.shape[-2]), min(a.shape[-1], b.shape[-1]))
        a, b = F.adaptive_avg_pool2d(a, size), F.adaptive_avg_pool2d(b, size)
    a, b = a.flatten(2), b.flatten(2)
    return a @ b.transpose(1, 2) / a.shape[-1]


def fsp_loss(student_maps: Sequence[torch.Tensor],
             teacher_maps: Sequence[torch.Tensor]) -> torch.Tensor:
    """FSP (Yim et al. 2017, eq. 2, λ = 1): Σ_l mean (G_S^l − G_T^l)² over the FSP matrices of
    consecutive maps (l, l + 1) of each network. The student's channel counts must equal the
    teacher's at every position."""
    if len(student_maps) != len(teacher_maps):
        raise ValueError(f"FSP needs as many student as teacher feature maps, "
                         f"got {len(student_maps)} and {len(teacher_maps)}")
    if len(student_maps) < 2:
        raise ValueError(f"FSP needs at least 2 feature maps per network (one layer pair), "
                         f"got {len(student_maps)}")
    for i, (s, t) in enumerate(zip(student_maps, teacher_maps)):
        if s.dim() != 4 or t.dim() != 4 or s.shape[1] != t.shape[1]:
            raise ValueError(f"FSP needs the same channel count for student and teacher map {i}: "
                             f"student {tuple(s.shape)}, teacher {tuple(t.shape)}; "
                             f"use a projection (e.g. a 1x1 conv) on the student map")
    total = student_maps[0].new_zeros(())
    for i in range(len(student_maps) - 1):
        g_s = fsp_matrix(student_maps[i], student_maps[i + 1])
        g_t = fsp_matrix(teacher_maps[i], teacher_maps[i + 1])
        total = total + (g_s - g_t).pow(2).mean()
    return total


def _common_shape(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Average-pool two per-sample features to one shape: a map meeting a vector is globally
    pooled to (N, C); then every axis after the batch is adaptive-average-pooled to the
    smaller of the two sizes (channels in groups, positions in windows)."""
    if a.dim() != b.dim():
        a = a.flatten(2).mean(dim=2) if a.dim() > 2 else a
        b = b.flatten(2).mean(dim=2) if b.dim() > 2 else b
        a, b = _flatten(a), _flatten(b)
    if a.shape == b.shape:
        return a, b
    size = tuple(min(p, q) for p, q in zip(a.shape[1:], b.shape[1:]))
    pools = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
    if len(size) not in pools:
        raise ValueError(f"IRG transformation cannot match features {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    pool = pools[len(size)]
    return pool(a.unsqueeze(1), size).squeeze(1), pool(b.unsqueeze(1), size).squeeze(1)


def _max_normalized(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    return x / x.max().clamp_min(eps)


def irg(student_maps: Sequence[torch.Tensor], teacher_maps: Sequence[torch.Tensor],
        student_logits: torch.Tensor, teacher_logits: torch.Tensor,
        weights: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> torch.Tensor:
    """IRG (Liu et al. 2019): λ_v·L_vertex + λ_e·L_edge + λ_t·L_transformation.

    - vertex: mean squared difference of the logits (the graph's vertices);
    - edge: for each layer l, the (N, N) squared Euclidean distances of the flattened
      features, divided by their maximum; mean squared difference, averaged over layers;
    - transformation: for consecutive layers (l, l + 1), each sample's squared distance
      between its features at l and at l + 1 (both average-pooled to a common shape, see
      ``_common_shape``), divided by the maximum over the batch; mean squared difference,
      averaged over the layer pairs (0 with a single layer).

    Features are lists of (N, ·) tensors, maps or vectors, one per layer; student and
    teacher may differ in size at any layer. Normalizing by the maximum and the pooling
    that matches consecutive layers follow the public IRG reimplementation
    (Knowledge-Distillation-Zoo), squared distances follow the paper.
    """
    if len(student_maps) != len(teacher_maps) or not student_maps:
        raise ValueError(f"IRG needs as many student as teacher feature maps (at least one), "
                         f"got {len(student_maps)} and {len(teacher_maps)}")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"IRG vertices need logits of equal shape: student "
                         f"{tuple(student_logits.shape)}, teacher {tuple(teacher_logits.shape)}")
    for s, t in zip(student_maps, teacher_maps):
        _check_batch("IRG", s, t, 1)
        if s.shape[0] != student_logits.shape[0]:
            raise ValueError(f"IRG features and logits differ in batch size: "
                             f"{s.shape[0]} and {student_logits.shape[0]}")
    w_vertex, w_edge, w_tran = weights
    vertex = F.mse_loss(student_logits, teacher_logits)

    edge = student_logits.new_zeros(())
    for s, t in zip(student_maps, teacher_maps):
        edge = edge + F.mse_loss(_max_normalized(_pairwise_distances(s, squared=True)),
                                 _max_normalized(_pairwise_distances(t, squared=True)))
    edge = edge / len(student_maps)

    def transformation(maps: Sequence[torch.Tensor], i: int) -> torch.Tensor:
        a, b = _common_shape(maps[i], maps[i + 1])
        return _max_normalized((_flatten(a) - _flatten(b)).pow(2).sum(dim=1))

    tran = student_logits.new_zeros(())
    pairs = len(student_maps) - 1
    for i in range(pairs):
        tran = tran + F.mse_loss(transformation(student_maps, i), transformation(teacher_maps, i))
    tran = tran / max(pairs, 1)
    return w_vertex * vertex + w_edge * edge + w_tran * tran


def crd_nce(positive: torch.Tensor, negatives: torch.Tensor, n_data: int,
            eps: float = 1e-7) -> torch.Tensor:
    """CRD's NCE loss (Tian et al. 2020, eqs. 17-19, as in their code).

    ``positive`` (N,) and ``negatives`` (N, K) are the normalized scores
    exp(f_T·f_S/τ)/Z of the congruent pair and of K noise pairs (Z the normalization
    constant). With noise probability K/M (M = ``n_data``), h = P/(P + K/M) and
    loss = −(1/N)·[Σ_i log h_i⁺ + Σ_{i,k} log(1 − h_ik⁻)]. ``eps`` keeps the logs finite.
    """
    if positive.dim() != 1 or negatives.dim() != 2 or negatives.shape[0] != positive.shape[0]:
        raise ValueError(f"CRD NCE needs positive scores (N,) and negative scores (N, K), "
                         f"got {tuple(positive.shape)} and {tuple(negatives.shape)}")
    if n_data <= 0:
        raise ValueError(f"CRD NCE needs n_data > 0, got {n_data}")
    noise = negatives.shape[1] / n_data
    log_pos = torch.log(positive.clamp_min(eps) / (positive + noise + eps))
    log_neg = torch.log(noise / (negatives + noise + eps))
    return -(log_pos.sum() + log_neg.sum()) / positive.shape[0]


def _info_nce(anchor: torch.Tensor, positive: torch.Tensor, memory: torch.Tensor | None,
              temperature: float) -> torch.Tensor:
    """Cross-entropy of each anchor picking its positive among [positive, memory] (or, with
    no memory, among the batch's positives)."""
    if memory is None:
        logits = anchor @ positive.t() / temperature
        target = torch.arange(anchor.shape[0], device=anchor.device)
    else:
        logits = torch.cat([(anchor * positive).sum(dim=1, keepdim=True),
                            anchor @ memory.t()], dim=1) / temperature
        target = torch.zeros(anchor.shape[0], dtype=torch.long, device=anchor.device)
    return F.cross_entropy(logits, target)


class ContrastiveRepresentation(nn.Module):
    """CRD (Tian et al. 2020): contrast student and teacher penultimate features.

    Linear heads embed both into ``embed_dim`` (L2-normalized). The loss has both of CRD's
    directions, teacher anchor against student negatives and student anchor against
    teacher negatives, summed, each in the softmax (InfoNCE) form at ``temperature``
    rather than NCE with a normalization constant Z: data-free training has no dataset
    size M for the noise distribution, and the softmax needs no Z.

    Deviation from the paper: its memory bank holds one entry per dataset index, and
    data-free batches carry no index, so the negatives are a FIFO queue of past
    embeddings (MoCo-style), ``negatives`` entries per side. The queued embeddings come
    from momentum copies of the heads, θ_k ← m·θ_k + (1 − m)·θ, the queue's counterpart
    of CRD's momentum-updated memory (m = ``momentum``, 0.5 as CRD's; m = 0 uses the
    current heads). The first call, with an empty queue, uses the other samples of the
    batch as negatives; later calls use all filled queue entries. In training mode each
    call then enqueues the batch (its last ``negatives`` samples if larger than the
    queue); queue, pointer, fill count and key heads are buffers, saved in state_dict.
    """

    def __init__(self, student_dim: int, teacher_dim: int, embed_dim: int = 128,
                 negatives: int = 4096, temperature: float = 0.07, momentum: float = 0.5):
        super().__init__()
        if min(student_dim, teacher_dim, embed_dim, negatives) < 1:
            raise ValueError(f"CRD needs positive sizes, got student_dim={student_dim}, "
                             f"teacher_dim={teacher_dim}, embed_dim={embed_dim}, "
                             f"negatives={negatives}")
        if temperature <= 0:
            raise ValueError(f"CRD temperature must be > 0, got {temperature}")
        if not 0 <= momentum < 1:
            raise ValueError(f"CRD momentum must be in [0, 1), got {momentum}")
        self.temperature = temperature
        self.momentum = momentum
        self.embed_s = nn.Linear(student_dim, embed_dim)
        self.embed_t = nn.Linear(teacher_dim, embed_dim)
        for side, head in (("s", self.embed_s), ("t", self.embed_t)):
            self.register_buffer(f"key_weight_{side}", head.weight.detach().clone())
            self.register_buffer(f"key_bias_{side}", head.bias.detach().clone())
        self.register_buffer("queue_s", torch.zeros(negatives, embed_dim))
        self.register_buffer("queue_t", torch.zeros(negatives, embed_dim))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("queue_filled", torch.zeros((), dtype=torch.long))

    def forward(self, student_features: torch.Tensor,
                teacher_features: torch.Tensor) -> torch.Tensor:
        if student_features.shape[0] != teacher_features.shape[0]:
            raise ValueError(f"CRD needs as many student as teacher samples, got "
                             f"{student_features.shape[0]} and {teacher_features.shape[0]}")
        f_s, f_t = _flatten(student_features), _flatten(teacher_features)
        if f_s.shape[1] != self.embed_s.in_features or f_t.shape[1] != self.embed_t.in_features:
            raise ValueError(f"CRD expects features of size {self.embed_s.in_features} (student) "
                             f"and {self.embed_t.in_features} (teacher), got {f_s.shape[1]} "
                             f"and {f_t.shape[1]}")
        s = F.normalize(self.embed_s(f_s), dim=1)
        t = F.normalize(self.embed_t(f_t), dim=1)
        filled = int(self.queue_filled)
        # copies: the backward needs the negatives as they were, _enqueue overwrites the queue
        memory_s = self.queue_s[:filled].clone() if filled else None
        memory_t = self.queue_t[:filled].clone() if filled else None
        loss = (_info_nce(t, s, memory_s, self.temperature)
                + _info_nce(s, t, memory_t, self.temperature))
        if self.training:
            self._enqueue(f_s, f_t)
        return loss

    @torch.no_grad()
    def _enqueue(self, f_s: torch.Tensor, f_t: torch.Tensor) -> None:
        m = self.momentum
        size = self.queue_s.shape[0]
        f_s, f_t = f_s[-size:].detach(), f_t[-size:].detach()
        n = f_s.shape[0]
        index = (self.queue_ptr + torch.arange(n, device=self.queue_s.device)) % size
        for side, head, feats, queue in (("s", self.embed_s, f_s, self.queue_s),
                                         ("t", self.embed_t, f_t, self.queue_t)):
            weight, bias = getattr(self, f"key_weight_{side}"), getattr(self, f"key_bias_{side}")
            weight.mul_(m).add_(head.weight.detach(), alpha=1 - m)
            bias.mul_(m).add_(head.bias.detach(), alpha=1 - m)
            queue[index] = F.normalize(F.linear(feats, weight, bias), dim=1).to(queue.dtype)
        self.queue_ptr.copy_((self.queue_ptr + n) % size)
        self.queue_filled.copy_((self.queue_filled + n).clamp_max(size))

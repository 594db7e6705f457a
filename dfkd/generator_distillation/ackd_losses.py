"""The accumulated-knowledge term of ACKD (Gao & Long, ICCV-W 2023; survey [73]), RECONSTRUCTED.

The paper could not be read (see :mod:`dfkd.generator_distillation.ackd`); this is a
reconstruction from the survey's one sentence: a student generator layer should not learn
only from the teacher layer at the same depth, but from the knowledge accumulated in the
teacher's intermediate layers. With the distilled layers l = 1..L in forward order,
student maps s_l and teacher maps t_j:

    target_l = Σ_{j ≤ l} α_{l,j} · P_{l,j}(t_j),   α_l = softmax_j(κ·w_l)  (j ≤ l)      (A1)
    L_ACKD   = Σ_l mean‖f_l(s_l) − target_l‖²                                          (A2)

f_l the learnable 1×1 convolution from student to teacher-layer-l channels (GAN
Compression's map), w_l learnable logits (zero at the start: a uniform average), κ
``logit_scale``; P_{l,j} brings t_j to t_l's shape: resized (average pooling down, bilinear
up) where the resolution differs, and a FIXED random semi-orthogonal 1×1 projection where
the channel count differs (none of either in the ResNet generators, whose distilled layers
all have 4·ngf channels at 1/4 resolution). ``uniform`` fixes α_{l,j} = 1/l; ``same_depth``
puts all weight on j = l, which is GAN Compression's Eq. 3 exactly.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.config import check_choice
from dfkd.core.errors import ConfigError
from dfkd.core.modes import eval_mode
from dfkd.nets.hooks import FeatureRecorder

ACCUMULATIONS = ("learned", "uniform", "same_depth")


class Accumulation(nn.Module):
    """The weights α_l of (A1) for each of ``n_layers`` distilled layers: ``learned``
    (softmax of ``logit_scale``·w_l, w_l zeros at the start), ``uniform`` or ``same_depth``."""

    def __init__(self, n_layers: int, mode: str = "learned", logit_scale: float = 1.0) -> None:
        super().__init__()
        self.mode = check_choice("options.accumulation", mode, ACCUMULATIONS)
        self.n_layers, self.logit_scale = n_layers, logit_scale
        learned = mode == "learned"
        self.logits = nn.ParameterList(
            [nn.Parameter(torch.zeros(k + 1)) for k in range(n_layers)] if learned else [])

    def weights(self, layer: int, device: torch.device | None = None) -> torch.Tensor:
        """α for distilled layer ``layer`` (0-based): ``layer + 1`` weights summing to 1 (the
        fixed modes' on ``device``)."""
        if self.mode == "learned":
            return torch.softmax(self.logit_scale * self.logits[layer], 0)
        if self.mode == "uniform":
            return torch.full((layer + 1,), 1.0 / (layer + 1), device=device)
        return F.one_hot(torch.tensor(layer), layer + 1).float().to(device)

    def matrix(self) -> torch.Tensor:
        """All α as an L×L lower-triangular matrix (row l: weights over teacher layers)."""
        rows = [F.pad(self.weights(k), (0, self.n_layers - k - 1)) for k in range(self.n_layers)]
        return torch.stack(rows) if rows else torch.zeros(0, 0)


class FixedProjection(nn.Module):
    """A fixed 1×1 map of C_in to C_out channels with a random semi-orthogonal weight (a
    buffer: saved, never trained), so that a teacher map of another width can enter a sum."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        weight = torch.empty(out_channels, in_channels)
        nn.init.orthogonal_(weight)
        self.register_buffer("weight", weight[:, :, None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight)


def resize_map(t: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """``t`` at spatial ``size``: as it is, average-pooled when smaller, bilinear when larger."""
    if tuple(t.shape[2:]) == tuple(size):
        return t
    if all(a >= b for a, b in zip(t.shape[2:], size)):
        return F.adaptive_avg_pool2d(t, size)
    return F.interpolate(t, size=size, mode="bilinear", align_corners=False)


def accumulated_targets(teacher_maps: list[torch.Tensor], accumulation: Accumulation,
                        projections: nn.ModuleDict) -> list[torch.Tensor]:
    """(A1): for each layer l, Σ_{j ≤ l} α_{l,j}·P_{l,j}(t_j); ``projections["l_j"]`` where
    t_j's channel count differs from t_l's."""
    targets = []
    for k, t_k in enumerate(teacher_maps):
        alpha = accumulation.weights(k, t_k.device)
        total = 0.0
        for j in range(k + 1):
            t = resize_map(teacher_maps[j], tuple(t_k.shape[2:]))
            key = f"{k}_{j}"
            if key in projections:
                t = projections[key](t)
            total = total + alpha[j] * t
        targets.append(total)
    return targets


def ackd_loss(student_maps: list[torch.Tensor], teacher_maps: list[torch.Tensor],
              mappings: nn.ModuleList, accumulation: Accumulation,
              projections: nn.ModuleDict) -> torch.Tensor:
    """(A2): Σ_l mean‖f_l(s_l) − target_l‖², the squared error averaged over elements as GAN
    Compression's distillation term is."""
    if not len(student_maps) == len(teacher_maps) == len(mappings) == accumulation.n_layers:
        raise ValueError("ackd_loss needs one student map, teacher map, mapping and "
                         "accumulation row per layer")
    targets = accumulated_targets(teacher_maps, accumulation, projections)
    return sum(F.mse_loss(f(s), t) for f, s, t in zip(mappings, student_maps, targets))


def teacher_projections(teacher: nn.Module, layers: list[str],
                        probe: torch.Tensor) -> nn.ModuleDict:
    """The fixed projections P_{l,j} (keys ``"l_j"``) where a teacher layer j ≤ l has another
    channel count than layer l, sized by running ``probe`` through ``teacher``. ``layers``
    must be in the order the forward pass reaches them (accumulation runs along depth); a
    layer out of order is one ConfigError line."""
    with torch.no_grad(), eval_mode(teacher), \
            FeatureRecorder(teacher, {name: name for name in layers}) as rec:
        teacher(probe)
    reached = list(rec.features)
    if reached != list(layers):
        raise ConfigError(f"options.distill_layers must be in forward order for ACKD's "
                          f"accumulation along depth: the teacher reaches them as "
                          f"{', '.join(reached)}, not {', '.join(layers)}")
    shapes = [rec.features[name].shape for name in layers]
    projections = nn.ModuleDict()
    for k, shape in enumerate(shapes):
        if len(shape) != 4:
            raise ConfigError(f"distill layer {layers[k]}: ACKD accumulates (N, C, H, W) maps, "
                              f"this one is {tuple(shape)}")
        for j in range(k):
            if shapes[j][1] != shape[1]:
                projections[f"{k}_{j}"] = FixedProjection(shapes[j][1], shape[1])
    return projections.to(probe.device)

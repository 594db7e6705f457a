"""The pieces of DCD (Hu et al., CVPR 2023, arXiv 2212.14169) that are not a training step:
the feature adapters, the teacher discriminator's layers, and the discriminator-cooperated
distillation loss itself. The method is :mod:`dfkd.generator_distillation.dcd`.

DCD loss (reconstructed from the official code, ``calc_DCD_loss`` of
``distillers/{pix2pix,cyclegan}best_distiller.py``; the paper's method section was not
readable here):

    L_DCD = Σ_t mean | D_T^k(A_S^t(G_S^t(x))) − D_T^k(A_T^t(G_T^t(x))) |

G^t(x) the generator's feature map at distilled layer t (``model.9/12/15/18``), A^t an
adapter Conv1×1 (no bias) + BatchNorm + ReLU from that map's channels to the teacher
discriminator's *input* channels, D_T^k the activation of the teacher discriminator's layer
k (the LeakyReLU before its last convolution, ``model.10`` of a 3-layer PatchGAN, as the
official CycleGAN distiller hooks it). The teacher's maps enter detached.
"""
from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import ConfigError
from dfkd.core.modes import eval_mode
from dfkd.nets.hooks import FeatureRecorder, PairRecorder
from generators.pix2pix import init_weights


def feature_adapter(in_channels: int, out_channels: int) -> nn.Sequential:
    """Conv1×1 (no bias) + BatchNorm + ReLU, as the official ``build_feature_connector``,
    initialized as its ``init_net`` leaves it: conv weights N(0, 0.02), BatchNorm weights
    N(1, 0.02) and biases 0."""
    adapter = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                            nn.BatchNorm2d(out_channels), nn.ReLU())
    return init_weights(adapter, "normal", 0.02)


def input_channels(discriminator: nn.Module) -> int:
    """The channels the discriminator takes: its first convolution's input channels."""
    conv = next((m for m in discriminator.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise ConfigError(f"DCD needs a convolutional discriminator; {type(discriminator).__name__}"
                          " has no Conv2d")
    return conv.in_channels


def activation_layers(discriminator: nn.Module) -> list[str]:
    """Names of the discriminator's activations (its LeakyReLU/ReLU modules) in order: for a
    3-layer PatchGAN ``model.1, model.4, model.7, model.10``; the last is the penultimate
    layer DCD compares at."""
    names = [n for n, m in discriminator.named_modules()
             if isinstance(m, (nn.LeakyReLU, nn.ReLU))]
    if not names:
        raise ConfigError(f"the discriminator {type(discriminator).__name__} has no activation "
                          "(LeakyReLU) layers to take DCD's features from")
    return names


def check_layers(discriminator: nn.Module, key: str, names: list[str]) -> list[str]:
    """``names`` if each is a module of the discriminator, else one ConfigError line."""
    modules = dict(discriminator.named_modules())
    for name in names:
        if name not in modules or not name:
            raise ConfigError(f"{key}: the discriminator has no module {name!r}; its "
                              f"activations are {', '.join(activation_layers(discriminator))}")
    return names


def generator_adapters(teacher: nn.Module, student: nn.Module, layers: list[str],
                       probe: torch.Tensor, out_channels: int
                       ) -> tuple[nn.ModuleList, nn.ModuleList, tuple[int, int]]:
    """One adapter per distilled layer for the student's maps and one for the teacher's, each
    to ``out_channels`` (the discriminator's input channels), sized by running ``probe``
    through both generators (in eval mode); also the maps' spatial size."""
    with torch.no_grad(), eval_mode(teacher, student), \
            PairRecorder(teacher, student, [(n, n) for n in layers]) as rec:
        teacher(probe), student(probe)
    size = None
    for name, s, t in zip(layers, rec.student_maps, rec.teacher_maps):
        if s.dim() != 4 or s.shape[2:] != t.shape[2:]:
            raise ConfigError(f"distill layer {name}: student map {tuple(s.shape[1:])} and "
                              f"teacher map {tuple(t.shape[1:])} differ in resolution; pick "
                              "layers of the same position in both generators")
        size = size or tuple(s.shape[2:])
    student_adapters = nn.ModuleList(feature_adapter(s.shape[1], out_channels)
                                     for s in rec.student_maps)
    teacher_adapters = nn.ModuleList(feature_adapter(t.shape[1], out_channels)
                                     for t in rec.teacher_maps)
    return (student_adapters.to(probe.device), teacher_adapters.to(probe.device),
            size or tuple(probe.shape[2:]))


def discriminator_features(discriminator: nn.Module, inputs: torch.Tensor,
                           layers: list[str]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The discriminator's output on ``inputs`` and its activations at ``layers`` (in order)."""
    with FeatureRecorder(discriminator, {f"l{i}": n for i, n in enumerate(layers)}) as rec:
        out = discriminator(inputs)
    return out, [rec[f"l{i}"] for i in range(len(layers))]


def dcd_loss(discriminator: nn.Module, layer: str, student_maps: list[torch.Tensor],
             teacher_maps: list[torch.Tensor], student_adapters: nn.ModuleList,
             teacher_adapters: nn.ModuleList, size: tuple[int, int] | None = None,
             teach_adapters: bool = True) -> torch.Tensor:
    """Σ_t mean |D_T^k(A_S^t(s_t)) − D_T^k(A_T^t(t_t))|, one discriminator pass per map.

    ``size``: the adapted maps are first resized (bilinear) to it (None: as they are).
    ``teach_adapters``: False runs the teacher's adapters in eval mode without gradients
    (the official CycleGAN distiller: fixed random adapters); True trains them with the
    student (the official pix2pix distiller). Teacher maps are always detached."""
    if not len(student_maps) == len(teacher_maps) == len(student_adapters) == len(teacher_adapters):
        raise ValueError("DCD needs one student map, teacher map and adapter each per layer, got "
                         f"{len(student_maps)}, {len(teacher_maps)}, {len(student_adapters)}, "
                         f"{len(teacher_adapters)}")
    total = torch.zeros((), device=student_maps[0].device if student_maps else None)
    for s, t, a_s, a_t in zip(student_maps, teacher_maps, student_adapters, teacher_adapters):
        s_in = _resize(a_s(s), size)
        frozen = nullcontext() if teach_adapters else torch.no_grad()
        with frozen, (nullcontext() if teach_adapters else eval_mode(a_t)):
            t_in = _resize(a_t(t.detach()), size)
        _, (s_act,) = discriminator_features(discriminator, s_in, [layer])
        with frozen:
            _, (t_act,) = discriminator_features(discriminator, t_in, [layer])
        total = total + F.l1_loss(s_act, t_act)
    return total


def _resize(maps: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
    if size is None or tuple(maps.shape[2:]) == tuple(size):
        return maps
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)


def check_discriminator_takes(discriminator: nn.Module, layer: str, channels: int,
                              size: tuple[int, int], resize_hint: str) -> None:
    """One ConfigError line when the discriminator cannot take ``channels``×``size`` maps
    (a convolution's output, or the activation at ``layer``, would be empty); probed in
    eval mode, so its statistics stay as they are."""
    probe = torch.zeros(2, channels, *size, device=next(discriminator.parameters()).device)
    try:
        with torch.no_grad(), eval_mode(discriminator):
            _, (act,) = discriminator_features(discriminator, probe, [layer])
        empty = act.numel() == 0
    except RuntimeError:
        empty = True
    if empty:
        raise ConfigError(f"the discriminator cannot take {size[0]}x{size[1]} maps: too small "
                          f"for its strided convolutions (DCD compares it at {layer}); "
                          f"{resize_hint}")

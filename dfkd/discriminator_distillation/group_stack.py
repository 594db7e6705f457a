"""The networks of the group-stack dual-GAN (Ye et al., CVPR 2020, sec. 3.1-3.2): networks
cut into B blocks, the group-stack generator whose groups make the inputs of the teachers'
last blocks, and the teacher-level filter.

What could be read (a secondary summary of the paper, with its equations; the paper's own
text was not reachable): G is a stack of B groups, F¹ = G¹(z), Fʲ = Gʲ(Fʲ⁻¹), F^B the image
(eq. 2), G and D "symmetrical"; Fʲ is judged by the teacher's last j blocks (eq. 4); the
teacher-level filter fʲ_m is "a light learnable module of a global pooling layer and two
fully connected layers" (eq. 9). Reconstructed here: the layers inside each group (sizes
below), and the filter as a channel gate Fʲ·σ(FC(ReLU(FC(GAP(Fʲ))))) (squeeze-excitation
form). Deviation: the student's filters put a 1×1 projection before the gate (identity at
start where the widths agree), so that one student feature map can feed two teachers whose
blocks read different channels.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import ConfigError
from dfkd.nets.lenet import LeNet5

Block = Callable[[torch.Tensor], torch.Tensor]


def lenet_blocks(model: nn.Module, role: str) -> list[Block]:
    """LeNet-5's four blocks: conv1-pool, conv2-pool, conv3 (flattened), the two FC layers."""
    if not isinstance(model, LeNet5):
        raise ConfigError(f"amalgamation cuts networks into blocks and knows LeNet-5 only; the "
                          f"{role} is a {type(model).__name__}: use lenet5 / lenet5_bn teachers "
                          "and a LeNet-5 student")
    m = model
    return [lambda x: m.maxpool1(m.relu1(m.bn1(m.conv1(x)))),
            lambda x: m.maxpool2(m.relu2(m.bn2(m.conv2(x)))),
            lambda x: m.relu3(m.bn3(m.conv3(x))).flatten(1),
            lambda x: m.fc2(m.relu4(m.bn4(m.fc1(x))))]


def run_blocks(blocks: list[Block], x: torch.Tensor) -> torch.Tensor:
    for block in blocks:
        x = block(x)
    return x


@torch.no_grad()
def block_inputs(blocks: list[Block], model: nn.Module, image_shape: tuple[int, ...]
                 ) -> list[tuple[int, ...]]:
    """The shape (without batch) of each block's input, the image first."""
    was = model.training
    model.eval()
    x = torch.zeros(1, *image_shape, device=next(model.parameters()).device)
    shapes = []
    for block in blocks:
        shapes.append(tuple(x.shape[1:]))
        x = block(x)
    model.train(was)
    return shapes


class ChannelFilter(nn.Module):
    """Teacher-level filter f (eq. 9): an optional 1×1 projection from ``in_ch`` to ``out_ch``
    channels, then a channel gate from global pooling and two fully connected layers."""

    def __init__(self, in_ch: int, out_ch: int, project: bool) -> None:
        super().__init__()
        self.project = None
        if project:
            self.project = nn.Linear(in_ch, out_ch)  # a 1×1 convolution on maps
            with torch.no_grad():
                self.project.weight.copy_(torch.eye(out_ch, in_ch))
                self.project.bias.zero_()
        elif in_ch != out_ch:
            raise ConfigError(f"a filter without projection keeps the channels: {in_ch} != "
                              f"{out_ch}")
        hidden = max(out_ch // 4, 4)
        self.gate = nn.Sequential(nn.Linear(out_ch, hidden), nn.ReLU(), nn.Linear(hidden, out_ch),
                                  nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.project is not None:
            x = (self.project(x) if x.dim() == 2 else
                 F.conv2d(x, self.project.weight[:, :, None, None], self.project.bias))
        pooled = x if x.dim() == 2 else x.mean(dim=(2, 3))
        gate = self.gate(pooled)
        return x * (gate if x.dim() == 2 else gate[:, :, None, None])


def _group(in_shape: tuple[int, ...], out_shape: tuple[int, ...], width: int,
           image: bool) -> nn.Module:
    """One group Gʲ: ``in_shape`` -> ``out_shape``. A vector out: Linear-BN-ReLU. A map out:
    from a vector, Linear to ``width``×h×w; from a map, resize to h×w and a 3×3 conv to
    ``width``; then BN-LeakyReLU and a 3×3 conv to the map's channels, ending in BN-ReLU
    (a teacher's post-ReLU features) or, for the image, DAFL's Tanh-BN(affine=False)."""
    if len(out_shape) == 1:
        return nn.Sequential(nn.Flatten(), nn.Linear(_numel(in_shape), out_shape[0]),
                             nn.BatchNorm1d(out_shape[0]), nn.ReLU())
    c, h, w = out_shape
    if len(in_shape) == 1:
        head: list[nn.Module] = [nn.Linear(in_shape[0], width * h * w),
                                 nn.Unflatten(1, (width, h, w))]
    else:
        head = [nn.Upsample(size=(h, w), mode="nearest"),
                nn.Conv2d(in_shape[0], width, 3, padding=1)]
    end = ([nn.Tanh(), nn.BatchNorm2d(c, affine=False)] if image
           else [nn.BatchNorm2d(c), nn.ReLU()])
    return nn.Sequential(*head, nn.BatchNorm2d(width), nn.LeakyReLU(0.2),
                         nn.Conv2d(width, c, 3, padding=1), *end)


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


class GroupStackGenerator(nn.Module):
    """G = {G¹ … G^B} (eq. 2): group j makes the input of the teachers' last j blocks,
    ``targets[j-1]`` (deepest first, the image last). ``G(z)`` is the image;
    ``features(z)`` is [F¹, …, F^B]."""

    conditional = False

    def __init__(self, nz: int, width: int, targets: list[tuple[int, ...]]) -> None:
        super().__init__()
        shapes = [(nz,), *targets]
        self.groups = nn.ModuleList(
            _group(shapes[j], shapes[j + 1], width, image=j == len(targets) - 1)
            for j in range(len(targets)))

    def features(self, z: torch.Tensor) -> list[torch.Tensor]:
        out, x = [], z
        for group in self.groups:
            x = group(x)
            out.append(x)
        return out

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.features(z)[-1]

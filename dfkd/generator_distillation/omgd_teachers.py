"""OMGD's online players beside the student (Ren et al., ICCV 2021, section 3.2 and the
official ``bytedance/OMGD`` code): the *deeper* teacher generator and the shared
multi-head PatchGAN that judges both teachers.

Deeper teacher (official ``mobile_deepest_resnet``, ``models/modules/resnet_architecture/
mobile_resnet_deepest_generator.py``): a ResNet generator of ``ngf`` 16 where every
down- and up-sampling stage is followed by an *expansion* residual block and a 3×3
conv-norm-ReLU, and two more expansion blocks sit in the middle of the residual blocks.
An expansion block is x + [pad, 1×1 conv to 4·C, norm, ReLU, 3×3 conv at 4·C, norm, ReLU,
1×1 conv back to C, norm, ReLU, pad, 3×3 conv, norm] (an inverted bottleneck, as read in
the code). Deviation: the official residual blocks between them are the separable-conv
"mobile" blocks; here they are the plain blocks of ``generators.pix2pix`` so that every
generator of a run (wide teacher, deep teacher, student) is of the toolkit's one plain
ResNet family; the official Dropout(rate 0) modules are left out (no effect, no weights).

Shared discriminator (official ``MultiNLayerDiscriminator`` with ``--n_share 3``): the
first three blocks are shared and the last two (the stride-1 conv block and the output
conv) are one head per teacher. Here the received PatchGAN is the wide teacher's path
and :func:`deep_head` copies its last two blocks (re-initialized) for the deep teacher.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError
from generators.pix2pix import ResnetBlock, get_norm_layer, init_weights

HEAD_MODULES = 4  # the last two PatchGAN blocks: [conv s1, norm, LeakyReLU] + [conv to 1]


class ExpansionResnetBlock(nn.Module):
    """x + inverted bottleneck (1×1 up to 4·C, 3×3, 1×1 down) + 3×3 conv, as the official."""

    def __init__(self, dim: int, norm: str = "batch") -> None:
        super().__init__()
        norm_layer, bias = get_norm_layer(norm), norm == "instance"
        wide = 4 * dim
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, wide, kernel_size=1, bias=bias), norm_layer(wide), nn.ReLU(True),
            nn.Conv2d(wide, wide, kernel_size=3, bias=bias), norm_layer(wide), nn.ReLU(True),
            nn.Conv2d(wide, dim, kernel_size=1, bias=bias), norm_layer(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, bias=bias), norm_layer(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class DeepResnetGenerator(nn.Module):
    """OMGD's deeper teacher: stem; 2 × (down conv, expansion block, 3×3 conv); n_blocks//2
    residual blocks, 2 expansion blocks, the remaining residual blocks; 2 × (up conv,
    expansion block, 3×3 conv); 7×7 head, Tanh."""

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 16, norm: str = "batch",
                 n_blocks: int = 9) -> None:
        if n_blocks < 0:
            raise ConfigError(f"n_blocks must be >= 0, got {n_blocks}")
        super().__init__()
        self.input_nc, self.output_nc, self.ngf = input_nc, output_nc, ngf
        norm_layer, bias = get_norm_layer(norm), norm == "instance"

        def stage(channels: int) -> list[nn.Module]:  # expansion block + 3×3 conv-norm-ReLU
            return [ExpansionResnetBlock(channels, norm),
                    nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=bias),
                    norm_layer(channels), nn.ReLU(True)]

        model: list[nn.Module] = [nn.ReflectionPad2d(3),
                                  nn.Conv2d(input_nc, ngf, kernel_size=7, bias=bias),
                                  norm_layer(ngf), nn.ReLU(True)]
        for mult in (1, 2):
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1,
                                bias=bias), norm_layer(ngf * mult * 2), nn.ReLU(True),
                      *stage(ngf * mult * 2)]
        dim = 4 * ngf
        first = n_blocks // 2
        model += [ResnetBlock(dim, norm=norm) for _ in range(first)]
        model += [ExpansionResnetBlock(dim, norm) for _ in range(2)]
        model += [ResnetBlock(dim, norm=norm) for _ in range(n_blocks - first)]
        for mult in (4, 2):
            model += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, kernel_size=3, stride=2,
                                         padding=1, output_padding=1, bias=bias),
                      norm_layer(ngf * mult // 2), nn.ReLU(True), *stage(ngf * mult // 2)]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def build_deep_teacher(info: dict, ngf: int) -> DeepResnetGenerator:
    """The deeper teacher for a wide teacher of architecture ``info`` (``netG``, ``norm``,
    channels), with as many residual blocks as it has, initialized N(0, 0.02)."""
    blocks = {"resnet_9blocks": 9, "resnet_6blocks": 6}.get(info["netG"])
    if blocks is None:
        raise ConfigError(f"OMGD's ResNet teachers need a resnet_9blocks/resnet_6blocks teacher "
                          f"file, got {info['netG']} (the U-Net variant is not implemented)")
    net = DeepResnetGenerator(info["input_nc"], info["output_nc"], ngf, info["norm"], blocks)
    return init_weights(net)


def deep_head(discriminator: nn.Module) -> nn.Sequential:
    """A second head for the shared PatchGAN: a re-initialized copy of its last two blocks
    (official ``n_share`` 3 of 5 blocks shared)."""
    body = getattr(discriminator, "model", None)
    if not isinstance(body, nn.Sequential) or len(body) <= HEAD_MODULES:
        raise ConfigError("OMGD shares a PatchGAN (generators.pix2pix.NLayerDiscriminator) "
                          f"between its teachers; got a {type(discriminator).__name__}")
    return init_weights(copy.deepcopy(body[-HEAD_MODULES:]))


def judge_deep(discriminator: nn.Module, head: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The shared trunk of ``discriminator`` followed by the deep teacher's ``head``."""
    return head(discriminator.model[:-HEAD_MODULES](inputs))

"""pix2pix / CycleGAN generators and PatchGAN discriminator in the original module layout.

Same modules in the same order as ``models/networks.py`` of the PyTorch pix2pix/CycleGAN
code (Isola et al. 2017; Zhu et al. 2017), so ``state_dict`` keys match theirs exactly
(``model.0`` … ``model.27`` for ``resnet_9blocks``, ``model.10.conv_block.1.weight``,
``model.model.1.model.3.model…`` for the U-Net) and their ``latest_net_G.pth`` /
``latest_net_G_A.pth`` files load as they are (see :mod:`generators.gan_checkpoint`).

Semantics kept from that code:

* ``norm="batch"``: ``BatchNorm2d(affine=True)``, convolutions before a norm have no bias;
  ``norm="instance"``: ``InstanceNorm2d(affine=False, track_running_stats=False)`` (no
  state_dict entries), so those convolutions carry the bias instead.
* ResNet generator (Johnson et al. 2016): 7×7 stem, two stride-2 downsamplings, ``n_blocks``
  residual blocks at ``4·ngf`` channels, two ``ConvTranspose2d(output_padding=1)``
  upsamplings, 7×7 head with bias, Tanh. Dropout(0.5) sits inside each residual block and
  shifts the second convolution from ``conv_block.5`` to ``conv_block.6``.
* U-Net: nested skip blocks; ``num_downs`` = 7 halves 128×128 down to 1×1 (``unet_128``),
  8 does so for 256×256 (``unet_256``). Dropout(0.5) goes *after* the up path of the
  ``num_downs − 5`` innermost-but-one ``8·ngf`` blocks: index 7, no parameter key moves.
* PatchGAN discriminator: 4×4 convolutions, LeakyReLU(0.2), ``n_layers`` stride-2 layers.
"""
from __future__ import annotations

import functools
from typing import Callable

import torch
import torch.nn as nn
from torch.nn import init

from dfkd.core.errors import ConfigError

GENERATOR_NAMES = ("resnet_9blocks", "resnet_6blocks", "unet_128", "unet_256")
DISCRIMINATOR_NAMES = ("basic", "n_layers")
NORMS = ("batch", "instance")


def get_norm_layer(norm: str) -> Callable[[int], nn.Module]:
    """The norm-layer factory of the original code for ``norm`` = batch | instance."""
    if norm == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if norm == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    raise ConfigError(f"unknown norm {norm!r}; use one of: {', '.join(NORMS)}")


def _uses_bias(norm: str) -> bool:
    """Convolutions followed by a norm carry a bias only under instance norm (no affine)."""
    get_norm_layer(norm)  # validates the name
    return norm == "instance"


class ResnetBlock(nn.Module):
    """x + conv_block(x): pad, 3×3 conv, norm, ReLU, [Dropout(0.5)], pad, 3×3 conv, norm."""

    def __init__(self, dim: int, padding_type: str = "reflect", norm: str = "batch",
                 use_dropout: bool = False) -> None:
        super().__init__()
        norm_layer, use_bias = get_norm_layer(norm), _uses_bias(norm)
        block: list[nn.Module] = []
        for second in (False, True):
            pad = 0
            if padding_type == "reflect":
                block.append(nn.ReflectionPad2d(1))
            elif padding_type == "replicate":
                block.append(nn.ReplicationPad2d(1))
            elif padding_type == "zero":
                pad = 1
            else:
                raise ConfigError(f"unknown padding_type {padding_type!r}; "
                                  "use reflect, replicate or zero")
            block += [nn.Conv2d(dim, dim, kernel_size=3, padding=pad, bias=use_bias),
                      norm_layer(dim)]
            if not second:
                block.append(nn.ReLU(True))
                if use_dropout:
                    block.append(nn.Dropout(0.5))
        self.conv_block = nn.Sequential(*block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """Stem, 2 downsamplings, ``n_blocks`` ResnetBlocks, 2 upsamplings, head, Tanh."""

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, norm: str = "batch",
                 use_dropout: bool = False, n_blocks: int = 6,
                 padding_type: str = "reflect") -> None:
        if n_blocks < 0:
            raise ConfigError(f"n_blocks must be >= 0, got {n_blocks}")
        super().__init__()
        self.input_nc, self.output_nc, self.ngf = input_nc, output_nc, ngf
        norm_layer, use_bias = get_norm_layer(norm), _uses_bias(norm)

        model: list[nn.Module] = [nn.ReflectionPad2d(3),
                                  nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
                                  norm_layer(ngf),
                                  nn.ReLU(True)]
        n_downsampling = 2
        for i in range(n_downsampling):
            mult = 2 ** i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1,
                                bias=use_bias),
                      norm_layer(ngf * mult * 2),
                      nn.ReLU(True)]

        mult = 2 ** n_downsampling
        for _ in range(n_blocks):
            model.append(ResnetBlock(ngf * mult, padding_type=padding_type, norm=norm,
                                     use_dropout=use_dropout))

        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            model += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, kernel_size=3, stride=2,
                                         padding=1, output_padding=1, bias=use_bias),
                      norm_layer(ngf * mult // 2),
                      nn.ReLU(True)]
        model += [nn.ReflectionPad2d(3),
                  nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0),
                  nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class UnetSkipConnectionBlock(nn.Module):
    """x → [x, up(submodule(down(x)))] concatenated on channels; the outermost block
    returns the up path alone (ending in Tanh), the innermost has no submodule."""

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int | None = None,
                 submodule: nn.Module | None = None, outermost: bool = False,
                 innermost: bool = False, norm: str = "batch", use_dropout: bool = False) -> None:
        if not innermost and submodule is None:
            raise ConfigError("a U-Net block that is not innermost needs a submodule")
        super().__init__()
        self.outermost = outermost
        norm_layer, use_bias = get_norm_layer(norm), _uses_bias(norm)
        if input_nc is None:
            input_nc = outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = norm_layer(inner_nc)
        uprelu = nn.ReLU(True)
        upnorm = norm_layer(outer_nc)

        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            model = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1,
                                        bias=use_bias)
            model = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1,
                                        bias=use_bias)
            model = [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm]
            if use_dropout:
                model.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """U-Net of ``num_downs`` nested skip blocks, built from the innermost outwards."""

    def __init__(self, input_nc: int, output_nc: int, num_downs: int, ngf: int = 64,
                 norm: str = "batch", use_dropout: bool = False) -> None:
        if num_downs < 5:
            raise ConfigError(f"a U-Net needs num_downs >= 5, got {num_downs}")
        super().__init__()
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, norm=norm, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm=norm,
                                            use_dropout=use_dropout)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, norm=norm)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, norm=norm)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, norm=norm)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block,
                                             outermost=True, norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """PatchGAN: one logit per overlapping patch (70×70 receptive field for n_layers=3)."""

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3,
                 norm: str = "batch") -> None:
        super().__init__()
        norm_layer, use_bias = get_norm_layer(norm), _uses_bias(norm)
        kw, padw = 4, 1
        sequence: list[nn.Module] = [
            nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw),
            nn.LeakyReLU(0.2, True)]
        nf_mult = 1
        for n in range(1, n_layers):
            nf_mult_prev, nf_mult = nf_mult, min(2 ** n, 8)
            sequence += [nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=2,
                                   padding=padw, bias=use_bias),
                         norm_layer(ndf * nf_mult),
                         nn.LeakyReLU(0.2, True)]
        nf_mult_prev, nf_mult = nf_mult, min(2 ** n_layers, 8)
        sequence += [nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=1,
                               padding=padw, bias=use_bias),
                     norm_layer(ndf * nf_mult),
                     nn.LeakyReLU(0.2, True),
                     nn.Conv2d(ndf * nf_mult, 1, kernel_size=kw, stride=1, padding=padw)]
        self.model = nn.Sequential(*sequence)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def init_weights(net: nn.Module, init_type: str = "normal", gain: float = 0.02) -> nn.Module:
    """The original ``init_weights``: conv/linear weights from ``init_type``, biases 0,
    BatchNorm weights N(1, gain) and biases 0."""
    kinds = ("normal", "xavier", "kaiming", "orthogonal")
    if init_type not in kinds:
        raise ConfigError(f"unknown init_type {init_type!r}; use one of: {', '.join(kinds)}")

    def init_one(m: nn.Module) -> None:
        name = type(m).__name__
        if getattr(m, "weight", None) is not None and ("Conv" in name or "Linear" in name):
            if init_type == "normal":
                init.normal_(m.weight, 0.0, gain)
            elif init_type == "xavier":
                init.xavier_normal_(m.weight, gain=gain)
            elif init_type == "kaiming":
                init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            else:
                init.orthogonal_(m.weight, gain=gain)
            if getattr(m, "bias", None) is not None:
                init.constant_(m.bias, 0.0)
        elif "BatchNorm2d" in name:
            init.normal_(m.weight, 1.0, gain)
            init.constant_(m.bias, 0.0)

    with torch.no_grad():
        net.apply(init_one)
    return net


def define_G(netG: str, input_nc: int = 3, output_nc: int = 3, ngf: int = 64,
             norm: str = "batch", use_dropout: bool = False, init_type: str = "normal",
             init_gain: float = 0.02) -> nn.Module:
    """Generator by its original ``--netG`` name, initialised like the original ``init_net``."""
    if netG == "resnet_9blocks":
        net = ResnetGenerator(input_nc, output_nc, ngf, norm, use_dropout, n_blocks=9)
    elif netG == "resnet_6blocks":
        net = ResnetGenerator(input_nc, output_nc, ngf, norm, use_dropout, n_blocks=6)
    elif netG == "unet_128":
        net = UnetGenerator(input_nc, output_nc, 7, ngf, norm, use_dropout)
    elif netG == "unet_256":
        net = UnetGenerator(input_nc, output_nc, 8, ngf, norm, use_dropout)
    else:
        raise ConfigError(f"unknown netG {netG!r}; use one of: {', '.join(GENERATOR_NAMES)}")
    return init_weights(net, init_type, init_gain)


def define_D(netD: str, input_nc: int = 6, ndf: int = 64, n_layers_D: int = 3,
             norm: str = "batch", init_type: str = "normal", init_gain: float = 0.02) -> nn.Module:
    """PatchGAN discriminator by its original ``--netD`` name (``basic`` = 3 layers).

    ``input_nc`` is input + output channels for pix2pix (conditional D), output channels
    for CycleGAN.
    """
    if netD == "basic":
        net = NLayerDiscriminator(input_nc, ndf, n_layers=3, norm=norm)
    elif netD == "n_layers":
        net = NLayerDiscriminator(input_nc, ndf, n_layers=n_layers_D, norm=norm)
    else:
        raise ConfigError(f"unknown netD {netD!r}; use one of: {', '.join(DISCRIMINATOR_NAMES)} "
                          "(the original 'pixel' discriminator is not implemented)")
    return init_weights(net, init_type, init_gain)


def distill_layers(netG: str) -> list[str]:
    """Modules whose outputs GAN Compression (Li et al. 2020, Sec. 3.1) distills.

    ``resnet_9blocks``: ``model.9`` (the ReLU whose output enters the residual blocks) and
    the outputs of blocks 3, 6 and 9 (``model.12``, ``model.15``, ``model.18``).
    ``resnet_6blocks`` (our choice, the paper has no 6-block setting): the same four points
    spread evenly, the block input and the outputs of blocks 2, 4, 6 (``model.9``,
    ``model.11``, ``model.13``, ``model.15``). All have ``4·ngf`` channels at 1/4 resolution.
    """
    blocks = {"resnet_9blocks": 9, "resnet_6blocks": 6}.get(netG)
    if blocks is None:
        if netG in GENERATOR_NAMES:
            raise ConfigError(f"no distillation layers are defined for {netG}; GAN Compression "
                              "distills ResNet generators (resnet_9blocks, resnet_6blocks): name "
                              "the modules with distill_layers, or set distill_weight=0")
        raise ConfigError(f"unknown netG {netG!r}; use one of: {', '.join(GENERATOR_NAMES)}")
    first = 9  # ReflectionPad, stem conv/norm/ReLU, 2 × (conv, norm, ReLU) = model.0 … model.9
    return [f"model.{first + k * blocks // 3}" for k in range(4)]


__all__ = ["DISCRIMINATOR_NAMES", "GENERATOR_NAMES", "NLayerDiscriminator", "ResnetBlock",
           "ResnetGenerator", "UnetGenerator", "UnetSkipConnectionBlock", "define_D",
           "define_G", "distill_layers", "get_norm_layer", "init_weights"]

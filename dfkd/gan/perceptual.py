"""Perceptual feature networks for the image-level distillation losses (style, feature).

``vgg16``: torchvision's VGG16 ``features`` up to relu4_3, with weights from a file the
user supplies (nothing is downloaded here); maps at relu1_2, relu2_2, relu3_3, relu4_3 of
(x + 1) / 2 (no ImageNet mean/std, as OMGD's ``utils/vgg_feature.py``); a one-channel
image is repeated to three.

``discriminator``: the stated substitute when no VGG weights are given — the LeakyReLU
outputs of a PatchGAN discriminator (``generators.pix2pix.NLayerDiscriminator``; 4 maps
for 3 layers) of the image, or of (condition, image) for a conditional D, taken in eval
mode so the two images compared go through the same function (running BatchNorm
statistics, not each batch's own). Its weights are not this module's: they belong to the
discriminator's player (the features move as it trains).

Both return a list of maps; ``feature_index`` names the one the feature (content) loss
uses (relu2_2; the second LeakyReLU map).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from dfkd.core.errors import CheckpointError, ConfigError
from dfkd.core.io import safe_load
from dfkd.core.modes import eval_mode

PERCEPTUAL_NETS = ("discriminator", "vgg16")
VGG16_TAPS = (3, 8, 15, 22)  # features[i] = relu1_2, relu2_2, relu3_3, relu4_3


class VGG16Features(nn.Module):
    """Frozen VGG16 relu1_2/2_2/3_3/4_3 maps from a user-supplied weights file."""

    feature_index = 1

    def __init__(self, weights: str | Path) -> None:
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers  # VGG16's convolutions only

        self.features = make_layers(cfgs["D"])[:VGG16_TAPS[-1] + 1]
        self.features.load_state_dict(vgg16_feature_state(weights))
        self.eval().requires_grad_(False)

    def train(self, mode: bool = True) -> "VGG16Features":
        return super().train(False)  # always frozen, in eval mode

    def forward(self, images: torch.Tensor, condition: torch.Tensor | None = None
                ) -> list[torch.Tensor]:
        x = (images + 1) / 2
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        maps = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in VGG16_TAPS:
                maps.append(x)
        return maps


def vgg16_feature_state(weights: str | Path) -> dict[str, torch.Tensor]:
    """The ``features.0 … features.22`` tensors of a torchvision VGG16 state_dict (whole
    model, ``features.*``, or the ``features`` Sequential's own keys), renamed to the
    Sequential's keys; one CheckpointError line when the file holds something else."""
    state = safe_load(weights)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(f"{weights} is not a VGG16 state_dict")
    keys = [f"{i}.{p}" for i in (0, 2, 5, 7, 10, 12, 14, 17, 19, 21) for p in ("weight", "bias")]
    out = {}
    for key in keys:
        for name in (f"features.{key}", key):
            if name in state:
                out[key] = state[name]
                break
        else:
            raise CheckpointError(f"{weights} is not a torchvision VGG16 state_dict: no "
                                  f"features.{key} (save torchvision.models.vgg16(...)."
                                  "state_dict())")
    return out


class DiscriminatorFeatures:
    """A PatchGAN's LeakyReLU maps of ``image`` (or of ``cat(condition, image)``)."""

    feature_index = 1

    def __init__(self, discriminator: nn.Module, conditional: bool) -> None:
        body = getattr(discriminator, "model", None)
        if not isinstance(body, nn.Sequential):
            raise ConfigError("the discriminator-feature substitute needs a PatchGAN "
                              f"(a .model Sequential), got {type(discriminator).__name__}")
        self.discriminator, self.conditional = discriminator, conditional

    def __call__(self, images: torch.Tensor, condition: torch.Tensor | None = None
                 ) -> list[torch.Tensor]:
        if self.conditional:
            if condition is None:
                raise ValueError("a conditional discriminator's features need the condition")
            images = torch.cat([condition, images], 1)
        maps, x = [], images
        body = self.discriminator.model
        last = max(i for i, m in enumerate(body) if isinstance(m, nn.LeakyReLU))
        with eval_mode(self.discriminator):
            for i, layer in enumerate(body[:last + 1]):
                x = layer(x)
                if isinstance(layer, nn.LeakyReLU):
                    maps.append(x)
        return maps


def build_perceptual(name: str, vgg_weights: str, discriminator: nn.Module, conditional: bool,
                     device: torch.device) -> VGG16Features | DiscriminatorFeatures:
    """The perceptual network ``name`` (``vgg16`` needs ``vgg_weights``, a local file)."""
    if name not in PERCEPTUAL_NETS:
        raise ConfigError(f"options.perceptual must be one of {', '.join(PERCEPTUAL_NETS)}, "
                          f"got {name!r}")
    if name == "vgg16":
        if not vgg_weights:
            raise ConfigError("options.perceptual=vgg16 needs options.vgg_weights, a local "
                              "torchvision VGG16 state_dict (none is downloaded); or use "
                              "perceptual: discriminator (the stated substitute)")
        return VGG16Features(vgg_weights).to(device)
    return DiscriminatorFeatures(discriminator, conditional)

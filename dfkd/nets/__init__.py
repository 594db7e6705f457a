"""Classifier zoo: LeNet-5(-half), CIFAR ResNets, WRNs, any torchvision model (``tv_*``)."""
from __future__ import annotations

import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.core.registry import MODELS
from dfkd.nets import lenet, resnet_cifar, resnet_he, wrn  # noqa: F401  (registration)
from dfkd.nets.checkpoint import extract_state_dict, load_weights, save_weights
from dfkd.nets.torchvision_models import PREFIX, build_torchvision


def build_model(name: str, in_channels: int = 3, num_classes: int = 10) -> nn.Module:
    """A registered classifier, or ``tv_<name>`` for a torchvision one."""
    if name.startswith(PREFIX) and name not in MODELS:
        return build_torchvision(name[len(PREFIX):], in_channels, num_classes)
    return MODELS.get(name)(in_channels=in_channels, num_classes=num_classes)


def feature_groups(model: nn.Module) -> tuple[str, ...]:
    """Module names whose outputs are the model's stage/group feature maps (ZSKT's
    attention-transfer points): the ``groups`` attribute of our models, ``layer1..4`` for
    torchvision ResNets."""
    groups = getattr(model, "groups", None)
    if groups is None:
        names = dict(model.named_children())
        groups = tuple(n for n in ("layer1", "layer2", "layer3", "layer4") if n in names)
    if not groups:
        raise ValueError(f"{type(model).__name__} does not name its feature groups: give the "
                         "class a `groups` attribute (module names of its stage outputs)")
    return tuple(groups)


def classifier_name(model: nn.Module) -> str:
    """Dotted name of the last ``nn.Linear`` (its input is the penultimate feature)."""
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ConfigError(f"{type(model).__name__} has no nn.Linear classifier layer")
    return names[-1]


def classifier_layer(model: nn.Module) -> nn.Linear:
    """The last ``nn.Linear`` in module order (its input is the penultimate feature)."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer")
    return layers[-1]


__all__ = ["build_model", "classifier_layer", "classifier_name", "feature_groups",
           "extract_state_dict", "load_weights",
           "save_weights"]

"""Classifier zoo: LeNet-5(-half), CIFAR ResNets, WRNs, any torchvision model (``tv_*``),
and any model of one's own by import path (``mypkg.nets:MyNet``)."""
from __future__ import annotations

import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.core.registry import MODELS
from dfkd.nets import lenet, resnet_cifar, resnet_he, wrn  # noqa: F401  (registration)
from dfkd.nets.checkpoint import extract_state_dict, load_weights, save_weights
from dfkd.nets.import_path import ModelRef, import_model, is_import_path, model_ref
from dfkd.nets.torchvision_models import PREFIX, build_torchvision


def build_model(name: str, in_channels: int = 3, num_classes: int = 10,
                kwargs: dict | None = None) -> nn.Module:
    """A registered classifier, ``tv_<name>`` for a torchvision one, or an import path
    ``module:Class`` called with ``kwargs`` alone (its own constructor decides the channels
    and classes; the run checks them against the dataset)."""
    if is_import_path(name):
        return import_model(name, kwargs)
    if kwargs:
        raise ConfigError(f"kwargs are for a model named by import path; {name} is built from "
                          "the dataset's channels and classes alone")
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


def head_name(model: nn.Module) -> str:
    """Dotted name of the first ``nn.Linear``: its input is the flattened feature map that
    the classifier head reads (LeNet-5's 120-d conv3 output, a ResNet's pooled features;
    DAFL's "features")."""
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ConfigError(f"{type(model).__name__} has no nn.Linear classifier layer")
    return names[0]


def classifier_layer(model: nn.Module) -> nn.Linear:
    """The last ``nn.Linear`` in module order (its input is the penultimate feature)."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer")
    return layers[-1]


__all__ = ["ModelRef", "build_model", "classifier_layer", "classifier_name", "feature_groups", "head_name",
           "extract_state_dict", "load_weights", "model_ref", "save_weights"]

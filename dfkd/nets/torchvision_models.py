"""Any torchvision classifier by name (``tv_<name>``, e.g. ``tv_resnet18``), untrained.

The first convolution is rebuilt for ``in_channels`` other than 3 and the last linear
layer for the class count, so any torchvision architecture fits any dataset spec.
"""
from __future__ import annotations

import difflib

import torch.nn as nn
import torchvision

from dfkd.core.registry import UnknownNameError

PREFIX = "tv_"


def _replace(model: nn.Module, path: str, new: nn.Module) -> None:
    parent_path, _, attr = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, attr, new)


def build_torchvision(name: str, in_channels: int = 3, num_classes: int = 10) -> nn.Module:
    """``torchvision.models.get_model(name, weights=None)`` adapted to channels/classes."""
    available = torchvision.models.list_models(module=torchvision.models)
    if name not in available:
        close = difflib.get_close_matches(name, available, n=1)
        hint = f" Did you mean {PREFIX + close[0]!r}?" if close else ""
        raise UnknownNameError(f"unknown model {PREFIX + name!r}: torchvision has no classifier "
                               f"{name!r}.{hint} (e.g. {', '.join(PREFIX + n for n in available[:5])})")
    model = torchvision.models.get_model(name, weights=None, num_classes=num_classes)
    if in_channels != 3:
        path, conv = next((p, m) for p, m in model.named_modules() if isinstance(m, nn.Conv2d))
        _replace(model, path, nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size,
                                        conv.stride, conv.padding, bias=conv.bias is not None))
    return model

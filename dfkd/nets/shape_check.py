"""Does a classifier fit a dataset? One blank image through it, before any training."""
from __future__ import annotations

import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.core.modes import eval_mode
from dfkd.data.specs import DatasetSpec


def check_input_size(model: nn.Module, what: str, spec: DatasetSpec, device) -> None:
    """Run one blank image of the dataset's size through ``model`` (eval mode, no graph)
    so that a model too deep for the images, or one with another number of classes, fails
    here with the fix, not mid-run."""
    shape = (1, spec.in_channels, spec.image_size, spec.image_size)
    try:
        with eval_mode(model), torch.no_grad():
            out = model(torch.zeros(shape, device=device))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0][:200]
        raise ConfigError(f"{what} does not take {spec.in_channels}×{spec.image_size}×"
                          f"{spec.image_size} images ({first}): resize the images (imagefolder: "
                          "image_size in spec.yaml) or pick a model made for this size") from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, spec.num_classes):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ConfigError(f"{what} must return logits of shape (batch, {spec.num_classes}), "
                          f"returned {got} for one image: give it {spec.num_classes} classes "
                          "(a model returning a tuple or dict needs a wrapper returning logits)")

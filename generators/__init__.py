"""Generator and discriminator architectures, registered in ``dfkd.registry.GENERATORS``.

``dafl``/``dfad`` (DAFL/DFAD generator), ``zskt`` (no final Tanh, affine final BN),
``conditional`` (label embedding summed with z, for CGDD). Generators with a class input
have ``conditional = True`` and are called as ``G(z, labels)``.
"""
from __future__ import annotations

import torch.nn as nn

from dfkd.registry import GENERATORS
from generators.conditional import ConditionalGenerator, balanced_labels
from generators.dafl import DAFLGenerator


def build_generator(name: str, nz: int, ngf: int, img_size: int, channels: int,
                    num_classes: int = 10) -> nn.Module:
    """Build a registered generator for images of ``channels`` x ``img_size``²."""
    return GENERATORS.get(name)(nz=nz, ngf=ngf, img_size=img_size, channels=channels,
                                num_classes=num_classes)


def is_conditional(generator: nn.Module) -> bool:
    """Whether ``generator`` takes class labels as a second input."""
    return bool(getattr(generator, "conditional", False))


__all__ = ["ConditionalGenerator", "DAFLGenerator", "balanced_labels", "build_generator",
           "is_conditional"]

"""Generator and discriminator architectures, registered in ``dfkd.core.registry.GENERATORS``.

``dafl``/``dfad`` (DAFL/DFAD generator), ``zskt`` (no final Tanh, affine final BN),
``conditional`` (label embedding summed with z, for CGDD), ``mad`` (the same z + e_y, its
embedding and body apart, for MAD's momentum copy). Generators with a class input
have ``conditional = True`` and are called as ``G(z, labels)``. Any of them can be built
several times over as one ``MultiGenerator`` (``generator.members``).
"""
from __future__ import annotations

import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.core.registry import GENERATORS
from generators.conditional import ConditionalGenerator, balanced_labels
from generators.dafl import DAFLGenerator
from generators.embedding_conditional import EmbeddingConditionalGenerator
from generators.multi import MultiGenerator
from generators.pixels import PixelBatch  # noqa: F401  (registers "pixels", DeepInversion)


def build_generator(name: str, nz: int, ngf: int, img_size: int, channels: int,
                    num_classes: int = 10, members: int = 1) -> nn.Module:
    """Build a registered generator for images of ``channels`` x ``img_size``²; with
    ``members`` > 1, that many of them as one :class:`MultiGenerator`."""
    factory = GENERATORS.get(name)
    if members < 1:
        raise ConfigError(f"generator.members must be >= 1, got {members}")
    built = [factory(nz=nz, ngf=ngf, img_size=img_size, channels=channels,
                     num_classes=num_classes) for _ in range(members)]
    return built[0] if members == 1 else MultiGenerator(built)


def is_conditional(generator: nn.Module) -> bool:
    """Whether ``generator`` takes class labels as a second input."""
    return bool(getattr(generator, "conditional", False))


__all__ = ["ConditionalGenerator", "DAFLGenerator", "EmbeddingConditionalGenerator",
           "MultiGenerator", "balanced_labels", "build_generator", "is_conditional"]

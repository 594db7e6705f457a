"""Generator and discriminator architectures, registered in ``dfkd.core.registry.GENERATORS``.

``dafl``/``dfad`` (DAFL/DFAD generator), ``zskt`` (no final Tanh, affine final BN),
``conditional`` (label embedding summed with z, for CGDD), ``mad`` (the same z + e_y, its
embedding and body apart, for MAD's momentum copy), ``datafree`` (CMI's, Fast-DFKD's and
NAYER's: Sigmoid pixels, normalized with the dataset's statistics). Generators with a class
input have ``conditional = True`` and are called as ``G(z, labels)``. Any of them can be
built several times over as one ``MultiGenerator`` (``generator.members``).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.core.registry import GENERATORS
from generators.conditional import ConditionalGenerator, balanced_labels
from generators.dafl import DAFLGenerator
from generators.datafree import DataFreeGenerator
from generators.embedding_conditional import EmbeddingConditionalGenerator
from generators.multi import MultiGenerator
from generators.pixels import PixelBatch  # noqa: F401  (registers "pixels", DeepInversion)


def build_generator(name: str, nz: int, ngf: int, img_size: int, channels: int,
                    num_classes: int = 10, members: int = 1,
                    mean: Sequence[float] | None = None,
                    std: Sequence[float] | None = None) -> nn.Module:
    """Build a registered generator for images of ``channels`` x ``img_size``²; with
    ``members`` > 1, that many of them as one :class:`MultiGenerator`. ``mean``/``std``:
    the dataset's normalization, which generators of [0, 1] pixels (``datafree``) apply."""
    factory = GENERATORS.get(name)
    if members < 1:
        raise ConfigError(f"generator.members must be >= 1, got {members}")
    built = [factory(nz=nz, ngf=ngf, img_size=img_size, channels=channels,
                     num_classes=num_classes) for _ in range(members)]
    for generator in built:
        if hasattr(generator, "set_normalization"):
            if mean is None or std is None:
                raise ConfigError(f"generator {name} makes [0, 1] pixels: build it with the "
                                  "dataset's mean and std")
            generator.set_normalization(mean, std)
    return built[0] if members == 1 else MultiGenerator(built)


def is_conditional(generator: nn.Module) -> bool:
    """Whether ``generator`` takes class labels as a second input."""
    return bool(getattr(generator, "conditional", False))


__all__ = ["ConditionalGenerator", "DAFLGenerator", "DataFreeGenerator",
           "EmbeddingConditionalGenerator", "MultiGenerator", "balanced_labels", "build_generator",
           "is_conditional"]

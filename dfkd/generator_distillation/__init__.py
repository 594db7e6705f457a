"""Generator distillation (GAN compression): a pretrained pix2pix/CycleGAN generator is
distilled into a narrow one (``tools/compress_gan.py``).

Each method is a file registered in ``METHODS`` (importing this package registers them),
built as ``Method(teacher, student, discriminator, options, data, setup)``; ``config.py``
is the run's typed config, ``train.py`` the entry the tool calls; ``api.compress``
(``dfkd.generator_distillation.compress``) runs it from Python on a generator and images
of one's own."""
from typing import Any

from dfkd.generator_distillation import (  # noqa: F401  (importing registers them)
    ackd,
    dcd,
    gan_compression,
    omgd,
    portable_gan,
)
from dfkd.generator_distillation.registry import METHODS

__all__ = ["METHODS", "compress"]


def __getattr__(name: str) -> Any:
    if name == "compress":  # imported when used: the API pulls in the whole run machinery
        from dfkd.generator_distillation.api import compress

        return compress
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

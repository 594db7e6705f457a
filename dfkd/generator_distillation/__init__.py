"""Generator distillation (GAN compression): a pretrained pix2pix/CycleGAN generator is
distilled into a narrow one (``tools/compress_gan.py``).

Each method is a file registered in ``METHODS`` (importing this package registers them),
built as ``Method(teacher, student, discriminator, options, data, setup)``; ``config.py``
is the run's typed config, ``train.py`` the entry the tool calls."""
from dfkd.generator_distillation import gan_compression  # noqa: F401  (registers it)
from dfkd.generator_distillation.registry import METHODS

__all__ = ["METHODS"]

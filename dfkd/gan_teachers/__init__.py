"""Training the teachers of the GAN families: pix2pix, CycleGAN and DCGAN
(``tools/train_gan.py``), registered in ``METHODS`` (the task picks one: paired → pix2pix,
unpaired → cyclegan, unconditional → dcgan).

Each is built with the distilling families' constructor, ``Method(teacher, student,
adversary, options, data, setup)``, read for a GAN that learns from data alone: the
teacher slot is None, the generator(s) are the student and the discriminator(s) the
adversary, ``options`` the method's ``Options`` dataclass (the config's ``options:``),
``data`` the training images (:class:`TranslationData` for pix2pix and CycleGAN, a tensor
for DCGAN) and ``setup`` a :class:`dfkd.gan.setup.GANSetup`. ``config.py`` is the run's
typed config, ``train.py`` the entry the tool calls."""
from dfkd.gan.setup import TranslationData
from dfkd.gan_teachers import (  # noqa: F401  (importing registers them)
    conditional_dcgan,
    cyclegan,
    dcgan,
    pix2pix,
)
from dfkd.gan_teachers.registry import METHODS

__all__ = ["METHODS", "TranslationData"]

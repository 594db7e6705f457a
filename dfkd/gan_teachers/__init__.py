"""Training the teachers of the GAN families: pix2pix, CycleGAN and DCGAN
(``tools/train_gan.py``), registered in ``METHODS``. They train from data, not from a
teacher, so their constructors take the networks, the data and the task's options rather
than the distilling families' (teacher, student, adversary, options, data, setup)."""
from dfkd.gan_teachers import cyclegan, dcgan, pix2pix  # noqa: F401  (registers them)
from dfkd.gan_teachers.registry import METHODS

__all__ = ["METHODS"]

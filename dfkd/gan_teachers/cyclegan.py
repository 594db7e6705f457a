"""CycleGAN, the unpaired GAN teacher (Zhu et al. 2017): the method is
:class:`dfkd.gan.cyclegan.CycleGAN` (shared with OMGD, whose online teacher it is);
registered here as this family's ``cyclegan``."""
from dfkd.gan.cyclegan import CycleGAN, CycleGANOptions
from dfkd.gan_teachers.registry import METHODS

METHODS.register("cyclegan")(CycleGAN)

__all__ = ["CycleGAN", "CycleGANOptions"]

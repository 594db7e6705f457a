"""The GAN teachers' trainers by name (chosen by the task: paired → pix2pix, unpaired →
cyclegan, unconditional → dcgan)."""
from dfkd.core.registry import Registry

METHODS = Registry("GAN teacher")

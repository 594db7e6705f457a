"""The check of a GAN teacher's empty teacher slot (its data spec is
``dfkd.gan.setup.TranslationData``, shared with GAN compression): the GANs that train
from data alone (``dfkd.gan_teachers``, and CycleGAN as OMGD's online teacher)."""
from __future__ import annotations


def check_no_teacher(method: str, teacher: object) -> None:
    """A GAN teacher trains from data alone: its ``teacher`` slot must be None."""
    if teacher is not None:
        raise TypeError(f"{method} trains from data and takes no teacher: pass teacher=None "
                        "(the generator is the student, the discriminator the adversary)")

"""Joint generator + discriminator distillation: a whole GAN (G_T, D_T) is distilled into a
student GAN (G_S, D_S) (``tools/distill_gan.py``)."""

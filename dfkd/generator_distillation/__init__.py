"""Generator distillation (GAN compression): a pretrained pix2pix/CycleGAN generator is
distilled into a narrow one (``tools/compress_gan.py``)."""

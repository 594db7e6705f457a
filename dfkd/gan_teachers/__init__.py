"""Training the teachers of the GAN families: pix2pix, CycleGAN and DCGAN
(``tools/train_gan.py``)."""

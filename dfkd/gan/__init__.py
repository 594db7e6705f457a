"""What the three GAN families share (GAN teachers, generator distillation, joint G+D
distillation): generating images in eval mode, image quality, FID features, fixed latents."""

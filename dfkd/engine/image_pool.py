"""The image pool of pix2pix/CycleGAN (Shrivastava et al. 2017; Zhu et al. 2017, §4).

The discriminator is shown a mix of the generator's newest images and ones it made
earlier: each image of a batch is stored while the pool is not full; once it is, with
probability ½ the image is swapped for a random stored one (which is returned and
replaced), else returned as is. Size 50 as in the original code; 0 disables the pool.
"""
from __future__ import annotations

import torch


class ImagePool:
    """A bounded store of generated images; ``query`` returns the batch the D sees."""

    def __init__(self, size: int = 50) -> None:
        if size < 0:
            raise ValueError(f"image pool size must be >= 0, got {size}")
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand(()) < 0.5:
                k = int(torch.randint(0, self.size, ()))
                out.append(self.images[k].clone())
                self.images[k] = image.clone()
            else:
                out.append(image)
        return torch.cat(out)

    def state_dict(self) -> dict:
        """The pool's images as one tensor, or as a list where they differ in size (folders
        read with ``--preprocess none`` or ``scale_width``)."""
        images = None
        if self.images:
            same = len({tuple(i.shape) for i in self.images}) == 1
            images = torch.cat(self.images) if same else [i.clone() for i in self.images]
        return {"size": self.size, "images": images}

    def load_state_dict(self, state: dict) -> None:
        self.size = state["size"]
        images = state["images"]
        if images is None:
            self.images = []
        else:
            self.images = list(images) if isinstance(images, list) else list(images.split(1))

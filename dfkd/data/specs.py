"""What each dataset is: channels, image size, class count, normalization, class names.

Models and generators are built from a :class:`DatasetSpec`, so a dataset is described in
one place. Fashion-MNIST and MNIST are brought to 32x32, the input size of LeNet-5 and of
the DAFL generator (Chen et al. 2019, Sec. 4.1).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DatasetSpec:
    """Shape and normalization of one dataset's images, as the networks see them."""

    name: str
    in_channels: int
    image_size: int
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    class_names: tuple[str, ...] = ()

    def class_name(self, k: int) -> str:
        """Readable name of class ``k`` (its index when the dataset names none)."""
        return self.class_names[k] if k < len(self.class_names) else str(k)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """Map images in [0, 1] to the normalized range the classifiers were trained on."""
        return (images - self._stat(self.mean, images)) / self._stat(self.std, images)

    def denormalize(self, images: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`normalize` (for showing synthesized images)."""
        return images * self._stat(self.std, images) + self._stat(self.mean, images)

    @staticmethod
    def _stat(values: tuple[float, ...], like: torch.Tensor) -> torch.Tensor:
        return torch.tensor(values, dtype=like.dtype, device=like.device).view(1, -1, 1, 1)


FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")

SPECS: dict[str, DatasetSpec] = {
    "fashion_mnist": DatasetSpec("fashion_mnist", 1, 32, 10, (0.2860,), (0.3530,),
                                 FASHION_CLASSES),
    "mnist": DatasetSpec("mnist", 1, 32, 10, (0.1307,), (0.3081,),
                         tuple(str(k) for k in range(10))),
    "cifar10": DatasetSpec("cifar10", 3, 32, 10, (0.4914, 0.4822, 0.4465),
                           (0.2023, 0.1994, 0.2010), CIFAR10_CLASSES),
    "cifar100": DatasetSpec("cifar100", 3, 32, 100, (0.5071, 0.4865, 0.4409),
                            (0.2673, 0.2564, 0.2762)),
}

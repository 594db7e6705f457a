"""Loading datasets through torchvision's classes into normalized in-memory tensors.

All supported datasets are small (at most 60k images of 32x32), so a whole split is read
once with torchvision, brought to the spec's size and normalization in one vectorized
step, and served as a :class:`~torch.utils.data.TensorDataset`.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
import yaml
from torch.utils.data import TensorDataset

from dfkd.core.errors import DatasetMissingError
from dfkd.core.registry import DATASETS
from dfkd.data.locate import MNIST_FILES, data_root, missing, prepare_fashion_mnist
from dfkd.data.specs import SPECS, DatasetSpec

IMAGE_FOLDER = "imagefolder"
FOLDER_SPEC_FILE = "spec.yaml"  # optional: in_channels, image_size, mean, std
for _name in (*SPECS, IMAGE_FOLDER):
    DATASETS.add(_name, _name)


def get_spec(name: str, root: str | Path | None = None) -> DatasetSpec:
    """The :class:`DatasetSpec` of dataset ``name`` (an image folder is read from ``root``)."""
    DATASETS.get(name)  # unknown names fail here, with a suggestion
    if name == IMAGE_FOLDER:
        return image_folder_spec(data_root(root))
    return SPECS[name]


def load_tensors(name: str, root: str | Path | None = None,
                 train: bool = False) -> TensorDataset:
    """The train or test split of ``name`` as normalized ``(images, labels)`` tensors."""
    spec = get_spec(name, root)
    images, labels = _READERS[name](data_root(root), train, spec)
    return TensorDataset(spec.normalize(images), labels)


def _mnist_like(cls_name: str, pad: bool):
    """Reader for torchvision's ``cls_name``; 28 -> 32 by zero-padding (``pad``) or resizing."""
    def read(root: Path, train: bool, spec: DatasetSpec) -> tuple[torch.Tensor, torch.Tensor]:
        import torchvision.datasets as tvd

        if cls_name == "FashionMNIST":
            prepare_fashion_mnist(root)  # unpacks Debian's files, or names the fix
        elif missing(root / cls_name / "raw", MNIST_FILES):
            raise DatasetMissingError(
                f"{cls_name} not found: expected its idx files in {root / cls_name / 'raw'}. "
                f"Fix: torchvision.datasets.{cls_name}('{root}', download=True) where the "
                "internet is reachable, then copy the folder here")
        ds = getattr(tvd, cls_name)(str(root), train=train, download=False)
        x = ds.data.unsqueeze(1).float() / 255.0
        if pad:
            x = F.pad(x, (2, 2, 2, 2))  # 28 -> 32 with a black border, as LeNet-5 expects
        else:
            x = F.interpolate(x, size=spec.image_size, mode="bilinear", antialias=True,
                              align_corners=False).clamp_(0, 1)  # DAFL resizes MNIST
        return x, ds.targets.long()

    return read


def _cifar(cls_name: str, folder: str):
    def read(root: Path, train: bool, spec: DatasetSpec) -> tuple[torch.Tensor, torch.Tensor]:
        import torchvision.datasets as tvd

        if not (root / folder).is_dir():
            raise DatasetMissingError(
                f"{cls_name} not found: expected {root / folder} (torchvision's layout). Fix: "
                f"torchvision.datasets.{cls_name}('{root}', download=True) where the internet "
                "is reachable, then copy the folder here, or pass --data-root")
        ds = getattr(tvd, cls_name)(str(root), train=train, download=False)
        x = torch.from_numpy(ds.data).permute(0, 3, 1, 2).float() / 255.0
        return x, torch.as_tensor(ds.targets, dtype=torch.long)

    return read


def image_folder_spec(root: Path) -> DatasetSpec:
    """Spec of ``root/{train,test}/<class>/<image>``; ``root/spec.yaml`` may set the rest."""
    train = root / "train"
    if not train.is_dir():
        raise DatasetMissingError(
            f"image folder dataset not found: expected {train}/<class>/<images> and "
            f"{root}/test/<class>/<images>. Fix: pass --data-root to such a folder")
    classes = tuple(sorted(p.name for p in train.iterdir() if p.is_dir()))
    extra = {}
    if (root / FOLDER_SPEC_FILE).is_file():
        extra = yaml.safe_load((root / FOLDER_SPEC_FILE).read_text()) or {}
    channels = int(extra.get("in_channels", 3))
    return DatasetSpec(IMAGE_FOLDER, channels, int(extra.get("image_size", 32)), len(classes),
                       tuple(extra.get("mean", [0.5] * channels)),
                       tuple(extra.get("std", [0.5] * channels)), classes)


def _image_folder(root: Path, train: bool, spec: DatasetSpec) -> tuple[torch.Tensor, torch.Tensor]:
    import torchvision.datasets as tvd
    import torchvision.transforms as T

    split = root / ("train" if train else "test")
    if not split.is_dir():
        raise DatasetMissingError(f"image folder split not found: {split}. Fix: create it "
                                  "with one sub-folder of images per class")
    steps = [T.Resize((spec.image_size, spec.image_size))]
    if spec.in_channels == 1:
        steps.append(T.Grayscale())
    ds = tvd.ImageFolder(str(split), transform=T.Compose([*steps, T.ToTensor()]))
    if tuple(ds.classes) != spec.class_names:
        raise DatasetMissingError(f"{split} has classes {ds.classes}, but train/ has "
                                  f"{list(spec.class_names)}: give both splits the same classes")
    images, labels = zip(*ds)
    return torch.stack(images), torch.tensor(labels, dtype=torch.long)


_READERS = {
    "fashion_mnist": _mnist_like("FashionMNIST", pad=True),
    "mnist": _mnist_like("MNIST", pad=False),
    "cifar10": _cifar("CIFAR10", "cifar-10-batches-py"),
    "cifar100": _cifar("CIFAR100", "cifar-100-python"),
    IMAGE_FOLDER: _image_folder,
}


# -- class subsets: a teacher of some of the classes (knowledge amalgamation) ----------------
def parse_classes(text: str | list[int], num_classes: int) -> list[int]:
    """``"0-4"``, ``"5-9"``, ``"0,2,7"`` or ``"0-2,8"`` (or a list of ints) -> sorted distinct
    class indices, each in ``[0, num_classes)``; anything else is one :class:`ConfigError`."""
    from dfkd.core.errors import ConfigError

    fix = "give --classes like 0-4, 5-9 or 0,2,7"
    if isinstance(text, (list, tuple)):
        items = [str(x) for x in text]
    else:
        items = [part.strip() for part in str(text).split(",")]
    found: set[int] = set()
    for item in items:
        low, sep, high = item.partition("-")
        try:
            first, last = (int(low), int(high)) if sep else (int(item), int(item))
        except ValueError:
            raise ConfigError(f"class range {item!r} is not a number or a range a-b: "
                              f"{fix}") from None
        if first > last or first < 0 or last >= num_classes:
            raise ConfigError(f"class range {item!r} is outside 0-{num_classes - 1} or "
                              f"reversed: {fix}")
        found.update(range(first, last + 1))
    if not found:
        raise ConfigError(f"no classes in {text!r}: {fix}")
    return sorted(found)


def class_subset(dataset: TensorDataset, classes: list[int]) -> TensorDataset:
    """The images of ``classes`` only, labels remapped to their positions in ``classes``
    (the k-th listed class becomes label k): a teacher of a class subset has
    ``len(classes)`` outputs."""
    images, labels = dataset.tensors
    lookup = torch.full((int(labels.max()) + 1 if len(labels) else 1,), -1, dtype=torch.long)
    for position, k in enumerate(classes):
        if k < len(lookup):
            lookup[k] = position
    mapped = lookup[labels]
    keep = mapped >= 0
    return TensorDataset(images[keep], mapped[keep])

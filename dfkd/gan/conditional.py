"""What the class-conditional GAN runs share (the conditional DCGAN teacher of
``dfkd.gan_teachers`` and PPCD-GAN in ``dfkd.joint_distillation``): the labelled garments,
balanced evaluation labels, samples of G(z, y), and how often a classifier names the asked
class of those samples."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from dfkd.core.modes import eval_mode
from dfkd.data.datasets import get_spec, load_tensors
from dfkd.data.gan_tasks import to_unit_range
from dfkd.gan.evaluation import TASK_DATASET, generate
from dfkd.metrics.image_quality import ClassifierFeatures
from generators.conditional_dcgan import FixedLabels


@dataclass
class LabeledImages:
    """Images (N, C, H, W) in [-1, 1] and their class labels (N,)."""

    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int


def fashion_labeled(root: str | None = None, train: bool = True) -> LabeledImages:
    """Every Fashion-MNIST garment in [-1, 1] with its label (the ``fashion`` task's images,
    labels kept)."""
    images, labels = load_tensors(TASK_DATASET, root, train=train).tensors
    return LabeledImages(to_unit_range(images) * 2 - 1, labels.long(),
                         get_spec(TASK_DATASET, root).num_classes)


def balanced(n: int, num_classes: int) -> torch.Tensor:
    """0, 1, …, K−1, 0, 1, … (n labels): every class equally often in evaluations."""
    return torch.arange(n) % num_classes


@torch.no_grad()
def class_accuracy(images: torch.Tensor, labels: torch.Tensor, features) -> dict[str, float]:
    """``{"class_acc": %}``: how often the FID classifier names the asked class of the
    samples (whether G uses y); ``{}`` under Inception features (no garment classifier)."""
    if not isinstance(features, ClassifierFeatures):
        return {}
    model, prepare = features.model, features.preprocess or (lambda x: x)
    x = images.clamp(-1, 1).to(next(model.parameters()).device)
    with eval_mode(model):
        logits = torch.cat([model(prepare(part)) for part in x.split(256)])
    return {"class_acc": 100.0 * float((logits.argmax(1).cpu() == labels).float().mean())}


def conditional_samples(generator: nn.Module, z: torch.Tensor, labels: torch.Tensor,
                        device) -> torch.Tensor:
    """G(z, labels) in eval mode, batched, on the CPU."""
    return generate(FixedLabels(generator, labels), z, device)


__all__ = ["LabeledImages", "balanced", "class_accuracy", "conditional_samples", "fashion_labeled"]

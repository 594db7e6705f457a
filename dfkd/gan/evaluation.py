"""Evaluating image-to-image generators: outputs, image quality and FID on a task.

Used by ``tools/train_gan.py`` (teachers), ``tools/compress_gan.py`` (students) and the
GAN-compression benchmark, so every number of a report is computed one way: generators
in eval mode, images in [-1, 1], PSNR/SSIM of ``dfkd.metrics.image_quality``, FID under a
named feature extractor (Inception-v3 when the user has its weights, else the
penultimate features of a classifier trained on the dataset).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.modes import eval_mode
from dfkd.data import get_spec
from dfkd.engine.teacher import load_teacher
from dfkd.metrics.image_quality import (
    ClassifierFeatures,
    FeatureExtractor,
    InceptionFeatures,
    fid,
    psnr,
    ssim,
)

GRID = 8  # examples per row of the TensorBoard grids
SAMPLE_SEED = 20160000  # the fixed latents of grids and evaluations
TASK_DATASET = "fashion_mnist"  # the embedded GAN tasks are made from it


@dataclass
class FIDConfig:
    """The features FID is computed under: Inception-v3 from ``inception_weights`` (a local
    file) when given, else the penultimate features of ``classifier`` (its
    ``classifier_ckpt``, or its cached Fashion-MNIST checkpoint); ``classifier: ""`` and no
    weights: no FID."""

    classifier: str = "lenet5"
    classifier_ckpt: str = ""
    inception_weights: str = ""


@torch.no_grad()
def generate(generator: nn.Module, inputs: torch.Tensor, device: torch.device | str,
             batch_size: int = 64) -> torch.Tensor:
    """``generator(inputs)`` in eval mode (its mode restored), batched, on the CPU."""
    with eval_mode(generator):
        return torch.cat([generator(inputs[i:i + batch_size].to(device)).cpu()
                          for i in range(0, len(inputs), batch_size)])


def compare(outputs: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    """Mean L1, PSNR (dB) and SSIM of ``outputs`` against ``reference`` (both [-1, 1])."""
    outputs = outputs.clamp(-1, 1)
    return {"l1": float(F.l1_loss(outputs, reference)), "psnr": psnr(outputs, reference),
            "ssim": ssim(outputs, reference)}


def task_features(cfg: FIDConfig, data_root: str | None = None,
                  device: torch.device | str = "cpu") -> FeatureExtractor | None:
    """The FID feature extractor of a run (a :class:`FIDConfig`): Inception-v3 from
    ``inception_weights`` if given, else the ``classifier`` of ``classifier_ckpt`` or its
    cached Fashion-MNIST checkpoint (trained first when missing, as ``make demo`` does),
    else None (no FID)."""
    if cfg.inception_weights:
        return InceptionFeatures(cfg.inception_weights, device)
    if not cfg.classifier:
        return None
    classifier = cfg.classifier
    model, meta = load_teacher(classifier, TASK_DATASET, cfg.classifier_ckpt or None,
                               data_root=data_root, device=str(device), train_if_missing=True)
    spec = get_spec(TASK_DATASET, data_root)
    return ClassifierFeatures(model, preprocess=lambda x: spec.normalize((x + 1) / 2),
                              label=f"{classifier} trained on {TASK_DATASET} "
                                    f"({meta['test_acc']:.2f}% test accuracy)")


def folder_features(cfg: FIDConfig, device: torch.device | str = "cpu") -> FeatureExtractor | None:
    """The FID feature extractor for images of a dataset folder of one's own: Inception-v3
    from ``inception_weights``, else None (no FID; the classifier features of
    :func:`task_features` are those of the embedded Fashion-MNIST garments)."""
    return InceptionFeatures(cfg.inception_weights, device) if cfg.inception_weights else None


NO_FOLDER_FID = ("no FID: a dataset folder's FID needs Inception-v3 weights, "
                 "--set fid.inception_weights=FILE (torchvision's or pytorch-fid's file)")


def task_fid(outputs: torch.Tensor, reals: torch.Tensor,
             extractor: FeatureExtractor | None) -> dict[str, float]:
    """``{"fid": …}`` of ``outputs`` against real images of the target domain, or ``{}``."""
    if extractor is None:
        return {}
    return {"fid": fid(reals, outputs.clamp(-1, 1), extractor)["fid"]}



def latent_bank(n: int, nz: int, seed: int = SAMPLE_SEED) -> torch.Tensor:
    """``n`` fixed latent vectors z ~ N(0, I): the same for every run and checkpoint, so
    samples of teachers and students are compared on the same z."""
    return torch.randn(n, nz, generator=torch.Generator().manual_seed(seed))

__all__ = ["FIDConfig", "GRID", "NO_FOLDER_FID", "compare", "folder_features", "generate",
           "latent_bank", "task_features", "task_fid"]

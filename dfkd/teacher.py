"""Teachers: train a classifier on real data, save it with metadata, find and load it.

A teacher file is ``{"state_dict": ..., "meta": {arch, dataset, num_classes, in_channels,
image_size, test_acc, epochs}}``; plain state_dicts from other code bases load too (the
metadata is then unknown and the test accuracy is measured).
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from dfkd.data import get_spec, load_tensors
from dfkd.errors import CheckpointError
from dfkd.metrics import accuracy
from dfkd.models import build_model, load_weights, save_weights

CHECKPOINT_DIR = Path("checkpoints")
EMBEDDED_DEFAULT = ("lenet5", "fashion_mnist")  # teacher that make demo trains if missing


def default_teacher_path(arch: str, dataset: str) -> Path:
    return CHECKPOINT_DIR / f"{arch}_{dataset}.pt"


def train_classifier(model: nn.Module, train: TensorDataset, test: TensorDataset, *,
                     epochs: int, lr: float = 1e-3, batch_size: int = 128,
                     device: str = "cpu", seed: int = 0, log=print) -> float:
    """Supervised training with Adam and a cosine schedule; returns test accuracy (%)."""
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loader_rng = torch.Generator().manual_seed(seed)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, generator=loader_rng)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * len(loader))
    for epoch in range(epochs):
        start = time.perf_counter()
        for images, labels in loader:
            loss = F.cross_entropy(model(images.to(device)), labels.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
        acc = accuracy(model, test, device=device)
        log(f"epoch {epoch + 1}/{epochs}: test accuracy {acc:.2f}% "
            f"({time.perf_counter() - start:.1f}s)")
    return acc


def train_teacher(arch: str, dataset: str, out: str | Path | None = None, *, epochs: int = 10,
                  data_root: str | None = None, device: str = "cpu", seed: int = 0,
                  log=print) -> tuple[nn.Module, dict]:
    """Train ``arch`` on ``dataset`` and save it (default ``checkpoints/<arch>_<dataset>.pt``)."""
    spec = get_spec(dataset, data_root)
    torch.manual_seed(seed)
    model = build_model(arch, in_channels=spec.in_channels, num_classes=spec.num_classes)
    train, test = load_tensors(dataset, data_root, train=True), load_tensors(dataset, data_root)
    acc = train_classifier(model, train, test, epochs=epochs, device=device, seed=seed, log=log)
    meta = {"arch": arch, "dataset": dataset, "num_classes": spec.num_classes,
            "in_channels": spec.in_channels, "image_size": spec.image_size,
            "test_acc": acc, "epochs": epochs}
    path = Path(out) if out else default_teacher_path(arch, dataset)
    save_weights(model.cpu(), path, meta)
    log(f"saved teacher {arch} ({acc:.2f}% on the {dataset} test set) to {path}")
    return model.to(device), meta


def load_teacher(arch: str, dataset: str, ckpt: str | Path | None = None, *,
                 data_root: str | None = None, device: str = "cpu",
                 train_if_missing: bool = False, log=print) -> tuple[nn.Module, dict]:
    """Load a teacher checkpoint (or the cached one), checking it fits ``arch``/``dataset``.

    With ``train_if_missing`` and no explicit ``ckpt``, a missing cached teacher of the
    embedded default is trained first (and saved for the next run).
    """
    spec = get_spec(dataset, data_root)
    path = Path(ckpt) if ckpt else default_teacher_path(arch, dataset)
    if not path.exists():
        if train_if_missing and not ckpt and (arch, dataset) == EMBEDDED_DEFAULT:
            log(f"no teacher at {path}: training {arch} on {dataset} first (about 2 minutes)")
            return train_teacher(arch, dataset, path, data_root=data_root, device=device, log=log)
        raise CheckpointError(
            f"no teacher checkpoint at {path}. Fix: python tools/train_teacher.py --model {arch} "
            f"--dataset {dataset}, or pass --teacher-ckpt PATH")
    model = build_model(arch, in_channels=spec.in_channels, num_classes=spec.num_classes)
    meta = load_weights(model, path, arch)
    for key, wanted in (("arch", arch), ("dataset", dataset)):
        if meta.get(key) not in (None, wanted):
            raise CheckpointError(f"{path} holds a {meta['arch']} teacher trained on "
                                  f"{meta['dataset']}, but --teacher {arch} --dataset {dataset} "
                                  "was asked for: pass the matching flags or another checkpoint")
    model.to(device).eval()
    if "test_acc" not in meta:
        meta["test_acc"] = accuracy(model, load_tensors(dataset, data_root), device=device)
    return model, meta

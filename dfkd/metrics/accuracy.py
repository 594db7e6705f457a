"""Top-1 accuracy of a classifier on a labelled dataset."""
from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

from dfkd.core.modes import eval_mode


@torch.no_grad()
def accuracy(model: nn.Module, dataset: Dataset, batch_size: int = 1000,
             device: str | torch.device = "cpu") -> float:
    """Percent of ``dataset`` items whose argmax prediction equals the label.

    The model is put in eval mode for the measurement and back in its previous mode after;
    the global random-number generators are not touched.
    """
    correct = total = 0
    # a private generator: iterating a DataLoader draws a seed, which must not come from
    # the global RNG (that would make a run depend on how often it was evaluated)
    loader = DataLoader(dataset, batch_size=batch_size, generator=torch.Generator())
    with eval_mode(model):
        for images, labels in loader:
            predicted = model(images.to(device)).argmax(dim=1).cpu()
            correct += int((predicted == labels).sum())
            total += len(labels)
    return 100.0 * correct / max(total, 1)

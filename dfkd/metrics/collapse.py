"""Mode-collapse signs of a data-free generator (seed 000, section 4: instability and mode
collapse are the open problems of GAN-based distillation).

Both figures are computed on a fixed bank of latents at every evaluation:

* class entropy: the entropy of the histogram of the teacher's predicted classes,
  divided by log K, so 1 means every class equally often and 0 a single class;
* sample diversity: the mean RMS pixel difference between pairs of samples (in the
  dataset's normalized units), 0 when every sample is the same image.
"""
from __future__ import annotations

import math

import torch


def class_entropy(logits: torch.Tensor) -> float:
    """Normalized entropy (in [0, 1]) of the argmax histogram of ``logits`` (N, K)."""
    k = logits.shape[1]
    p = torch.bincount(logits.argmax(1), minlength=k).double() / len(logits)
    p = p[p > 0]
    return float(-(p * p.log()).sum() / math.log(k))


def sample_diversity(images: torch.Tensor) -> float:
    """Mean over pairs i ≠ j of sqrt(mean((x_i − x_j)²)) for a batch (N, ...)."""
    flat = images.flatten(1).double()
    n = len(flat)
    if n < 2:
        raise ValueError("sample diversity needs at least two samples")
    distances = torch.cdist(flat, flat) / math.sqrt(flat.shape[1])
    return float(distances.sum() / (n * (n - 1)))


def collapse_warnings(entropy: float, diversity: float, min_entropy: float,
                      min_diversity: float) -> list[str]:
    """Human-readable warnings for figures below their thresholds (none when healthy)."""
    found = []
    if entropy < min_entropy:
        found.append(f"teacher-class entropy {entropy:.2f} < {min_entropy} (few classes "
                     "generated)")
    if diversity < min_diversity:
        found.append(f"sample diversity {diversity:.3f} < {min_diversity} (near-identical "
                     "samples)")
    return found

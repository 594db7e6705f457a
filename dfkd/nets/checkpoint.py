"""Load classifier weights from the files other code bases save, with readable errors.

Accepted: a raw state_dict, or a dict holding it under ``state_dict`` or ``model``
(DFAD, DAFL, DataFree and torchvision reference scripts), with or without the
``module.`` prefix that ``DataParallel`` adds. Files are read with ``weights_only=True``.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from dfkd.core.errors import CheckpointError
from dfkd.core.io import atomic_save, safe_load


def extract_state_dict(obj: object) -> dict[str, torch.Tensor]:
    """The tensor mapping inside a loaded checkpoint, ``module.`` prefixes stripped."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError("the file holds no state_dict (a mapping of names to tensors), "
                              "nor one under 'state_dict' or 'model'")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}


def _diagnose(model: nn.Module, state: dict[str, torch.Tensor], arch: str) -> str:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [k for k in own if k in state and own[k].shape != state[k].shape]
    if not missing and not unexpected and mismatched:
        linear = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        first_conv = next((n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)), None)
        if linear and set(mismatched) <= {f"{linear[-1]}.weight", f"{linear[-1]}.bias"}:
            theirs, ours = state[f"{linear[-1]}.weight"].shape[0], own[f"{linear[-1]}.weight"].shape[0]
            return (f"class count mismatch: the checkpoint has {theirs} classes, the {arch} "
                    f"being built has {ours} (pass the --dataset the teacher was trained on)")
        if first_conv and mismatched == [f"{first_conv}.weight"]:
            theirs, ours = state[mismatched[0]].shape[1], own[mismatched[0]].shape[1]
            return (f"input channel mismatch: the checkpoint takes {theirs}-channel images, the "
                    f"dataset gives {ours} (pass the --dataset the teacher was trained on)")
    parts = [f"{label}: {', '.join(keys[:5])}{' …' if len(keys) > 5 else ''}"
             for label, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                                 ("shape mismatches", mismatched)) if keys]
    return f"wrong architecture? the checkpoint does not look like a {arch} ({'; '.join(parts)})"


def load_weights(model: nn.Module, path: str | Path, arch: str | None = None) -> dict:
    """Load ``path`` into ``model``; return the metadata saved beside it (``{}`` if none)."""
    arch = arch or type(model).__name__
    obj = safe_load(path)
    try:
        state = extract_state_dict(obj)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    meta = obj.get("meta") if isinstance(obj, dict) else None
    meta = dict(meta) if isinstance(meta, dict) else {}
    own = model.state_dict()
    for key in own:  # files from PyTorch < 0.4.1 lack BatchNorm's step counter
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = own[key]
    if set(own) != set(state) or any(own[k].shape != state[k].shape for k in own):
        said = (f" The file says it holds a {meta['arch']} trained on {meta.get('dataset', '?')}."
                if "arch" in meta else "")
        raise CheckpointError(f"{path} does not fit {arch}: {_diagnose(model, state, arch)}.{said}")
    model.load_state_dict(state)
    return meta


def save_weights(model: nn.Module, path: str | Path, meta: dict) -> None:
    """Atomically write ``{"state_dict": ..., "meta": meta}``."""
    atomic_save({"state_dict": model.state_dict(), "meta": meta}, path)

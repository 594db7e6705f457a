"""Training-state files: atomic writes, readable errors, and RNG capture for exact resume.

A checkpoint holds every player (model, optimizer, scheduler, EMA), the method's own
state, the iteration and all random-number-generator states, so ``--resume`` continues
as if the run had never stopped. Writes go to a temporary file that is then renamed over
the old one: a crash mid-write never destroys the last good checkpoint.
"""
from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import torch

from dfkd.core.errors import CheckpointError, CorruptCheckpointError


def atomic_save(obj: Any, path: str | Path, previous: str | Path | None = None) -> None:
    """``torch.save`` to a temp file in the same folder, then rename over ``path``; with
    ``previous``, the file ``path`` held is first renamed to it (the last good copy)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        if previous is not None and path.exists():
            os.replace(path, previous)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def safe_load(path: str | Path) -> dict:
    """Load a checkpoint with ``weights_only=True``; clear errors when missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for truncated/garbage files
        raise CorruptCheckpointError(
            f"{path} is not a readable PyTorch checkpoint (truncated or corrupt?): "
            f"{type(exc).__name__}; pass an intact copy") from None


def rng_state() -> dict:
    """All random-number-generator states a run draws from."""
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore the states captured by :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed Python and torch (CPU and CUDA) generators."""
    random.seed(seed)
    torch.manual_seed(seed)


def write_json(path: str | Path, data: dict) -> None:
    """Write ``data`` as indented JSON via a temp file and rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)

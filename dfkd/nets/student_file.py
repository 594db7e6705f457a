"""The distilled classifier as a deliverable: every run writes ``student.pt``, its weights
and what is needed to rebuild it, and :func:`load_student` reads it back in one call.

The file is ``{"state_dict": ..., "meta": {"arch", "kwargs", "in_channels", "image_size",
"num_classes", ...}}`` (the teacher file's layout), where ``arch`` is a registry name
(``lenet5_half``) or an import path (``mypkg.nets:Small``) and ``kwargs`` the import-path
model's constructor arguments (None when they are unknown: a module passed from Python).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from dfkd.core.errors import CheckpointError, DfkdError
from dfkd.core.io import atomic_save, safe_load
from dfkd.nets.checkpoint import load_weights
from dfkd.nets.import_path import import_model, import_path_of, is_import_path

STUDENT_FILE = "student.pt"


def student_meta(model: nn.Module, arch: str | None, kwargs: dict | None, spec, **extra) -> dict:
    """What :func:`load_student` needs to rebuild ``model``: ``arch`` as the config named it
    (None: the model's own import path, None when it has none), the image shape and
    classes."""
    return {"arch": arch or import_path_of(model), "class": type(model).__name__,
            "kwargs": kwargs, "in_channels": spec.in_channels, "image_size": spec.image_size,
            "num_classes": spec.num_classes, **extra}


def save_student(model: nn.Module, path: str | Path, meta: dict) -> Path:
    """Atomically write the weights of ``model`` (as CPU tensors) with ``meta``."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_save({"state_dict": state, "meta": meta}, path)
    return Path(path)


def load_student(path: str | Path, model: nn.Module | None = None,
                 device: str | torch.device = "cpu") -> nn.Module:
    """The distilled student of a run, in eval mode: ``path`` is a ``student.pt`` or the
    run folder holding one. The architecture is rebuilt from the file; give ``model`` (an
    instance of the right architecture) when the file cannot say how (a class defined in a
    script, or one whose constructor arguments were not recorded)."""
    path = Path(path)
    if path.is_dir():
        path = path / STUDENT_FILE
    if not path.exists():
        raise CheckpointError(f"no student file at {path}: a run writes {STUDENT_FILE} when it "
                              "finishes; pass the run folder of a finished run")
    if model is None:
        obj = safe_load(path)
        meta = obj.get("meta", {}) if isinstance(obj, dict) else {}
        model = _rebuild(meta, path)
    load_weights(model, path)
    return model.to(device).eval()


def _rebuild(meta: dict, path: Path) -> nn.Module:
    arch = meta.get("arch")
    if not arch:
        name = meta.get("class", "model")
        raise CheckpointError(f"{path} holds a {name} that cannot be imported by name (defined "
                              f"in a script?): pass model={name}(...) to load it")
    if is_import_path(arch):
        if meta.get("kwargs") is None:
            raise CheckpointError(f"{path} holds a {arch} whose constructor arguments were not "
                                  f"recorded: pass model={arch.split(':')[-1]}(...)")
        return import_model(arch, meta["kwargs"])
    from dfkd.nets import build_model  # the zoo registers on import

    try:
        return build_model(arch, in_channels=meta.get("in_channels", 3),
                           num_classes=meta.get("num_classes", 10))
    except DfkdError as exc:
        raise CheckpointError(f"{path} holds a {arch} that cannot be rebuilt here ({exc}): pass "
                              "model=<an instance of it>") from None

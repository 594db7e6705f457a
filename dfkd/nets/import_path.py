"""Models of one's own, named by import path: ``package.module:ClassName`` (or a function
that returns an ``nn.Module``), built with the keyword arguments the config gives.

A config names such a model as ``teacher: {class: mypkg.nets:MyNet, kwargs: {width: 32},
ckpt: path/to/weights.pt}`` or ``student: {model: {class: mypkg.nets:Small, kwargs: {}}}``;
the command line as ``--teacher mypkg.nets:MyNet`` (no keyword arguments).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import torch.nn as nn

from dfkd.core.errors import ConfigError

REFERENCE_KEYS = ("class", "kwargs", "ckpt")


def is_import_path(name: str) -> bool:
    """``module:attribute`` (a registry name never holds a colon)."""
    return isinstance(name, str) and ":" in name


@dataclass(frozen=True)
class ModelRef:
    """A model as a config names it: a registry name or an import path, the keyword
    arguments of an import-path model, and the weights file ("" for none)."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    ckpt: str = ""

    @property
    def label(self) -> str:
        """A short name for folders and logs: ``MyNet`` for ``mypkg.nets:MyNet``."""
        return self.name.rsplit(":", 1)[-1] if is_import_path(self.name) else self.name


def model_ref(value: str | dict, key: str, ckpt: str = "") -> ModelRef:
    """Read a config's model entry (a name, or a mapping with ``class``, ``kwargs`` and, for
    a teacher, ``ckpt``) at config key ``key``; ``ckpt`` (a ``*_ckpt`` key or flag), when
    given, names the weights file."""
    if isinstance(value, str):
        return ModelRef(value, {}, ckpt)
    unknown = sorted(set(value) - set(REFERENCE_KEYS))
    if unknown:
        raise ConfigError(f"config key {key!r}: unknown entry {unknown[0]!r}; a model given as a "
                          f"mapping takes {', '.join(REFERENCE_KEYS)}")
    name = value.get("class")
    if not is_import_path(name):
        raise ConfigError(f"config key '{key}.class' must be an import path 'package.module:Name'"
                          f", got {name!r}")
    kwargs = value.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise ConfigError(f"config key '{key}.kwargs' must be a mapping, got {kwargs!r}")
    return ModelRef(name, dict(kwargs), ckpt or str(value.get("ckpt") or ""))


def import_model(path: str, kwargs: dict[str, Any] | None = None) -> nn.Module:
    """Import ``module:attribute`` and call it with ``kwargs``; each failure is one
    :class:`ConfigError` naming the path and the fix."""
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r} for the model {path} ({exc}): install "
                          "the package or put its folder on PYTHONPATH") from None
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"module {module_name!r} has no {attribute!r} (model {path}); "
                              "check the name after the colon")
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(f"{path} is not a class or function that builds a model")
    try:
        model = target(**(kwargs or {}))
    except TypeError as exc:
        raise ConfigError(f"{path}({', '.join(f'{k}={v!r}' for k, v in (kwargs or {}).items())})"
                          f" failed: {exc}; fix its kwargs") from None
    if not isinstance(model, nn.Module):
        raise ConfigError(f"{path} returned a {type(model).__name__}, not a torch nn.Module")
    return model


def import_path_of(model: nn.Module) -> str | None:
    """``module:QualName`` of the model's class when it can be imported back by that name
    (not for classes defined in ``__main__`` or inside a function), else None."""
    cls = type(model)
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        return None
    try:
        target = importlib.import_module(cls.__module__)
        for part in cls.__qualname__.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError):
        return None
    return f"{cls.__module__}:{cls.__qualname__}" if target is cls else None


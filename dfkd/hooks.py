"""Record intermediate tensors of a model with forward hooks, without rewriting it.

    with FeatureRecorder(teacher, {"penultimate": "fc2"}, inputs=True) as rec:
        logits = teacher(x)
    features = rec["penultimate"]

Hooks are removed on exit, also when the body raises. Recorded tensors keep their graph,
so losses on them backpropagate (e.g. DAFL's activation loss into the generator).
"""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn as nn

from dfkd.errors import DfkdError


class FeatureRecorder:
    """Context manager recording the outputs (or inputs) of named submodules."""

    def __init__(self, model: nn.Module, layers: Mapping[str, str], inputs: bool = False) -> None:
        modules = dict(model.named_modules())
        missing = [path for path in layers.values() if path not in modules]
        if missing:
            names = [n for n in modules if n][:12]
            raise DfkdError(f"{type(model).__name__} has no module {missing[0]!r} to record; "
                            f"its modules start with: {', '.join(names)}")
        self._targets = {key: modules[path] for key, path in layers.items()}
        self.names = list(layers)  # the keys, in the order given
        self._inputs = inputs
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self.features: dict[str, torch.Tensor] = {}

    def __enter__(self) -> "FeatureRecorder":
        self.features.clear()
        for key, module in self._targets.items():
            if self._inputs:
                hook = module.register_forward_pre_hook(self._saver(key, from_inputs=True))
            else:
                hook = module.register_forward_hook(self._saver(key, from_inputs=False))
            self._handles.append(hook)
        return self

    def _saver(self, key: str, from_inputs: bool):
        def save(module, args, output=None):
            self.features[key] = args[0] if from_inputs else output
        return save

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __getitem__(self, key: str) -> torch.Tensor:
        return self.features[key]

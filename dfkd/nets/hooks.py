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

from dfkd.core.errors import ConfigError, DfkdError


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


class PairRecorder:
    """Record paired layers of a teacher and a student, plus each one's penultimate
    feature (the input of its classifier), for the knowledge-form losses.

        with PairRecorder(teacher, student, pairs, embeddings=True) as rec:
            with torch.no_grad():
                teacher(x)
            student(x)
        rec.teacher_maps, rec.student_maps  # lists in the order of ``pairs``
        rec.teacher_embedding, rec.student_embedding  # (N, D) each

    ``pairs`` lists ``(teacher module, student module)`` names. All hooks are removed on
    exit; neither model's forward is touched.
    """

    def __init__(self, teacher: nn.Module, student: nn.Module,
                 pairs: list[tuple[str, str]], embeddings: str | None = None,
                 student_embeddings: str | None = None) -> None:
        self.pairs = list(pairs)
        self._maps = [FeatureRecorder(teacher, {f"t{i}": t for i, (t, _) in enumerate(pairs)}),
                      FeatureRecorder(student, {f"s{i}": s for i, (_, s) in enumerate(pairs)})]
        self._embeds = []
        if embeddings is not None:
            self._embeds = [FeatureRecorder(teacher, {"t": embeddings}, inputs=True),
                            FeatureRecorder(student, {"s": student_embeddings or embeddings},
                                            inputs=True)]

    def __enter__(self) -> "PairRecorder":
        for rec in self._maps + self._embeds:
            rec.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        for rec in self._maps + self._embeds:
            rec.__exit__(*exc)

    @property
    def teacher_maps(self) -> list[torch.Tensor]:
        return [self._maps[0][f"t{i}"] for i in range(len(self.pairs))]

    @property
    def student_maps(self) -> list[torch.Tensor]:
        return [self._maps[1][f"s{i}"] for i in range(len(self.pairs))]

    @property
    def teacher_embedding(self) -> torch.Tensor:
        return self._embeds[0]["t"].flatten(1)

    @property
    def student_embedding(self) -> torch.Tensor:
        return self._embeds[1]["s"].flatten(1)


def projection(student_shape: torch.Size, teacher_shape: torch.Size, pair: str) -> nn.Module:
    """A learned map from a student feature to its teacher's shape (FitNet's regressor):
    identity when the shapes agree, a 1×1 convolution + BN for (N, C, H, W) maps whose
    channel counts differ, a linear layer for (N, D) vectors. Maps of different spatial
    size are an error: pick layers of equal resolution."""
    if tuple(student_shape[1:]) == tuple(teacher_shape[1:]):
        return nn.Identity()
    if len(student_shape) == 2 and len(teacher_shape) == 2:
        return nn.Linear(student_shape[1], teacher_shape[1])
    if len(student_shape) == 4 and len(teacher_shape) == 4 and \
            student_shape[2:] == teacher_shape[2:]:
        return nn.Sequential(nn.Conv2d(student_shape[1], teacher_shape[1], 1, bias=False),
                             nn.BatchNorm2d(teacher_shape[1]))
    raise ConfigError(
        f"feature pair {pair}: student shape {tuple(student_shape[1:])} cannot be projected "
        f"onto teacher shape {tuple(teacher_shape[1:])} (spatial sizes differ); choose layers "
        "of equal resolution with knowledge.teacher_layers / knowledge.student_layers")

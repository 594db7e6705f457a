"""``StudentLoss``: Σ_k w_k·term_k between a frozen teacher and a student on one batch."""
from __future__ import annotations

import contextlib

import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.core.modes import eval_mode
from dfkd.knowledge.config import KnowledgeConfig
from dfkd.knowledge.terms import KNOWLEDGE, Probe, Views
from dfkd.nets import classifier_name, feature_groups
from dfkd.nets.hooks import PairRecorder


def layer_pairs(teacher: nn.Module, student: nn.Module,
                cfg: KnowledgeConfig) -> list[tuple[str, str]]:
    """``(teacher layer, student layer)`` pairs: the configured names, or both models'
    feature groups, paired one to one."""
    def names(model: nn.Module, given: list[str], role: str) -> list[str]:
        if given:
            return list(given)
        try:
            return list(feature_groups(model))
        except ValueError as exc:
            raise ConfigError(f"feature terms on the {role}: {exc}; or set "
                              f"knowledge.{role}_layers") from None
    ours = names(teacher, cfg.teacher_layers, "teacher")
    theirs = names(student, cfg.student_layers, "student")
    if len(ours) != len(theirs):
        raise ConfigError(
            f"feature terms pair layers one to one, but the teacher gives {len(ours)} "
            f"({', '.join(ours)}) and the student {len(theirs)} ({', '.join(theirs)}): set "
            "knowledge.teacher_layers and knowledge.student_layers to lists of equal length")
    return list(zip(ours, theirs))


class StudentLoss(nn.Module):
    """The weighted knowledge terms of a ``student_loss:`` block, with their learnable
    parts as submodules (pass this module to the student's optimizer).

    ``example`` is a small input batch used once to read the layers' shapes; neither
    model's BatchNorm statistics change on it.
    """

    def __init__(self, weights: dict[str, float], teacher: nn.Module, student: nn.Module,
                 example: torch.Tensor, cfg: KnowledgeConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or KnowledgeConfig()
        unknown = sorted(set(weights) - set(KNOWLEDGE.names()))
        if unknown:
            KNOWLEDGE.get(unknown[0])  # raises with the known names and a suggestion
        self.weights = {name: float(w) for name, w in weights.items() if w}
        if not self.weights:
            raise ConfigError("student_loss has no term with a non-zero weight; give e.g. "
                              "{kd: 1.0}")
        self._models = (teacher, student)  # a tuple: not registered as submodules
        classes = {name: KNOWLEDGE.get(name) for name in self.weights}
        self.needs_maps = any(c.needs_maps for c in classes.values())
        self.needs_embedding = any(c.needs_embedding for c in classes.values())
        self.needs_targets = [n for n, c in classes.items() if c.needs_targets]
        self.needs_teacher = any(c.needs_teacher for c in classes.values())
        pairs = layer_pairs(teacher, student, cfg) if self.needs_maps else []
        embed = ((classifier_name(teacher), classifier_name(student))
                 if self.needs_embedding else (None, None))
        self.recorder = PairRecorder(teacher, student, pairs, *embed)
        probe = self._probe(example, pairs)
        self.terms = nn.ModuleDict({name: cls(probe, cfg) for name, cls in classes.items()})
        self.warmup = cfg.warmup
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))  # for the warm-up

    @torch.no_grad()
    def _probe(self, example: torch.Tensor, pairs: list[tuple[str, str]]) -> Probe:
        teacher, student = self._models
        with eval_mode(teacher, student), self.recorder as rec:
            classes = teacher(example).shape[1], student(example).shape[1]
        t_maps = [m.shape for m in rec.teacher_maps]
        s_maps = [m.shape for m in rec.student_maps]
        dims = ((rec.teacher_embedding.shape[1], rec.student_embedding.shape[1])
                if self.needs_embedding else (0, 0))
        return Probe(t_maps, s_maps, dims[0], dims[1], [f"{t}->{s}" for t, s in pairs], *classes)

    def views(self, images: torch.Tensor, targets: torch.Tensor | None = None,
              teacher_logits: torch.Tensor | None = None) -> Views:
        """Run the models on ``images`` and gather what the terms read. The teacher runs
        without a graph (once; not at all when only logit terms are on and
        ``teacher_logits`` are given, or no term needs it)."""
        teacher, student = self._models
        if self.needs_targets and targets is None:
            raise ConfigError(f"student_loss terms {', '.join(self.needs_targets)} need class "
                              "targets, and none were given")
        recording = self.needs_maps or self.needs_embedding
        with self.recorder if recording else contextlib.nullcontext() as rec:
            if recording or (teacher_logits is None and self.needs_teacher):
                with torch.no_grad():
                    teacher_logits = teacher(images)
            student_logits = student(images)
        views = Views(student_logits, teacher_logits, targets)
        if self.needs_maps:
            views.student_maps, views.teacher_maps = rec.student_maps, rec.teacher_maps
        if self.needs_embedding:
            views.student_embedding = rec.student_embedding
            views.teacher_embedding = rec.teacher_embedding
        return views

    def critics(self) -> nn.ModuleDict:
        """The discriminators of the adversarial terms, by term name: not part of this
        module (nor of the student's optimizer) but the loop's ``critic`` player."""
        return nn.ModuleDict({name: term.critic for name, term in self.terms.items()
                              if term.needs_critic})

    def critic_loss(self, images: torch.Tensor, targets: torch.Tensor | None = None,
                    teacher_logits: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The critics' step on one batch: each adversarial term's discriminator loss
        (teacher outputs real, student outputs fake; the student runs without a graph),
        summed under ``"loss"``."""
        with torch.no_grad():
            views = self.views(images, targets, teacher_logits)
        out: dict[str, torch.Tensor] = {}
        for name, term in self.terms.items():
            if term.needs_critic:
                out.update({f"{name}/{k}": v for k, v in term.critic_loss(views).items()})
        if not out:
            raise ConfigError("no student_loss term has a discriminator (adversarial, anc)")
        out["loss"] = sum(v for k, v in out.items() if k.endswith("/loss"))
        return out

    def forward(self, images: torch.Tensor, targets: torch.Tensor | None = None,
                teacher_logits: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Every term on ``images`` (see :meth:`views`) and their weighted sum under
        ``"loss"``; ``targets`` are the class labels of the terms that need them. Terms
        other than ``ce`` are scaled by the warm-up ramp min(1, step / warmup)."""
        views = self.views(images, targets, teacher_logits)
        student_logits = views.student_logits
        out: dict[str, torch.Tensor] = {}
        total = student_logits.new_zeros(())
        ramp = min(1.0, float(self.steps) / self.warmup) if self.warmup else 1.0
        self.steps += 1
        for name, term in self.terms.items():
            value = term(views)
            if isinstance(value, dict):
                out.update({f"{name}/{k}": v for k, v in value.items() if k not in ("loss", "own")})
                total = total + value.get("own", 0.0)
                value = value["loss"]
            out[name] = value
            total = total + self.weights[name] * (1.0 if name == "ce" else ramp) * value
        out["loss"] = total
        return out

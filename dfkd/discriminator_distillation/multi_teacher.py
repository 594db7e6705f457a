"""Several teachers of disjoint class subsets seen as one teacher of all the classes, for
data-free knowledge amalgamation (Ye et al., CVPR 2020; ``methods/amalgamation.py``).

Teacher m classifies its own classes ``classes[m]`` (dataset indices, recorded in its
checkpoint by ``tools/train_teacher.py --classes 0-4``); the student's outputs are the
concatenation of the teachers' class ranges, so the ranges must tile ``0..K-1`` exactly.
:class:`MultiTeacher` keeps the members and exposes their own logits (the per-teacher
losses); its ``forward`` is the *ensemble* in the K-way space, so that everything the loop
does with "the teacher" (targets, sample grids, forgetting bank, test accuracy) sees it:
each image is given to the more confident teacher (largest max-softmax probability, ties to
the first) and the output is the log of that teacher's softmax placed in its class range,
every other class at ``LOG_FLOOR`` (probability ~0). Its argmax is the ensemble's class.

A config asks for several teachers with a list of checkpoints:
``teacher_ckpt: [a.pt, b.pt]`` (or ``--set teacher_ckpt=[a.pt,b.pt]``), all of the
architecture ``teacher`` names.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import CheckpointError, ConfigError
from dfkd.core.io import safe_load
from dfkd.data import get_spec, load_tensors
from dfkd.engine.teacher import classes_label
from dfkd.metrics import accuracy
from dfkd.nets import build_model, load_weights
from dfkd.nets.shape_check import check_input_size

LOG_FLOOR = -50.0  # log-probability of the classes of the teachers an image is not given to


def check_class_ranges(classes: list[list[int]], num_classes: int) -> None:
    """The teachers' class ranges must tile the student's ``num_classes`` outputs: no class
    in two teachers, none outside ``0..K-1``, none left out. One ConfigError line otherwise."""
    owner: dict[int, int] = {}
    for m, members in enumerate(classes):
        if not members:
            raise ConfigError(f"teacher {m + 1} has no classes: train it with --classes")
        for k in members:
            if not 0 <= k < num_classes:
                raise ConfigError(f"teacher {m + 1} has class {k}, outside the student's "
                                  f"0-{num_classes - 1}: use teachers of this dataset's classes")
            if k in owner:
                raise ConfigError(
                    f"the teachers' class ranges overlap: class {k} is in teacher {owner[k] + 1} "
                    f"({classes_label(classes[owner[k]])}) and teacher {m + 1} "
                    f"({classes_label(members)}); each class must belong to one teacher")
            owner[k] = m
    missing = [k for k in range(num_classes) if k not in owner]
    if missing:
        have = ", ".join(classes_label(c) for c in classes)
        raise ConfigError(f"the teachers' classes ({have}) leave class(es) "
                          f"{classes_label(missing)} of the student's {num_classes} outputs "
                          "uncovered: add a teacher of those classes")


def confidences(member_logits: list[torch.Tensor]) -> torch.Tensor:
    """(N, M): each teacher's max softmax probability per image."""
    return torch.stack([F.softmax(z, dim=1).amax(dim=1) for z in member_logits], dim=1)


def routing(member_logits: list[torch.Tensor]) -> torch.Tensor:
    """(N,): the teacher each image is given to, the most confident one (ties: the first)."""
    return confidences(member_logits).argmax(dim=1)


def embed(probs: torch.Tensor, classes: list[int], num_classes: int) -> torch.Tensor:
    """A teacher's (N, |classes|) values placed at its classes of the (N, K) space, 0 elsewhere."""
    out = probs.new_zeros(len(probs), num_classes)
    index = torch.as_tensor(classes, device=probs.device).expand(len(probs), -1)
    return out.scatter(1, index, probs)


def routed_distribution(member_logits: list[torch.Tensor], classes: list[list[int]],
                        num_classes: int) -> torch.Tensor:
    """(N, K) ensemble distribution: the chosen teacher's softmax in its range, 0 elsewhere
    (the student's target for an image given to that teacher)."""
    chosen = routing(member_logits)
    q = 0
    for m, (z, members) in enumerate(zip(member_logits, classes)):
        gate = (chosen == m).to(z.dtype).unsqueeze(1)
        q = q + gate * embed(F.softmax(z, dim=1), members, num_classes)
    return q


def soft_routed_distribution(member_logits: list[torch.Tensor], classes: list[list[int]],
                             num_classes: int) -> torch.Tensor:
    """(N, K): Σ_m w_m·embed(p_m), w_m = c_m / Σ c the teachers' normalized confidences — the
    differentiable form of the routing (the class balance of the ensemble on G's batch)."""
    conf = confidences(member_logits)
    weights = conf / conf.sum(dim=1, keepdim=True)
    return sum(weights[:, m:m + 1] * embed(F.softmax(z, dim=1), members, num_classes)
               for m, (z, members) in enumerate(zip(member_logits, classes)))


def routed_logits(member_logits: list[torch.Tensor], classes: list[list[int]],
                  num_classes: int) -> torch.Tensor:
    """log of :func:`routed_distribution`, floored at ``LOG_FLOOR``: K-way logits whose
    argmax is the ensemble's class and whose softmax is the routed distribution."""
    return routed_distribution(member_logits, classes, num_classes).clamp_min(
        torch.exp(torch.tensor(LOG_FLOOR)).item()).log()


class MultiTeacher(nn.Module):
    """Teachers of disjoint class subsets as one K-way teacher (see the module docstring).
    ``member_logits(x)``: each teacher's own logits; ``forward(x)``: the routed ensemble."""

    def __init__(self, members: list[nn.Module], classes: list[list[int]],
                 num_classes: int) -> None:
        super().__init__()
        if len(members) != len(classes):
            raise ConfigError(f"{len(members)} teachers but {len(classes)} class ranges")
        check_class_ranges(classes, num_classes)
        self.members = nn.ModuleList(members)
        self.classes = [list(c) for c in classes]
        self.num_classes = num_classes

    def member_logits(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [member(x) for member in self.members]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return routed_logits(self.member_logits(x), self.classes, self.num_classes)


def as_multi_teacher(teacher: nn.Module, num_classes: int) -> MultiTeacher:
    """``teacher`` itself if it is a MultiTeacher, else one teacher of all ``num_classes``."""
    if isinstance(teacher, MultiTeacher):
        return teacher
    return MultiTeacher([teacher], [list(range(num_classes))], num_classes)


def load_multi_teacher(arch: str, dataset: str, ckpts: list[str], *, kwargs: dict | None = None,
                       data_root: str | None = None, device: str = "cpu"
                       ) -> tuple[MultiTeacher, dict]:
    """The teachers in ``ckpts`` (each a ``arch`` of ``dataset`` whose file records its
    ``classes``) as one :class:`MultiTeacher`, in eval mode; its meta holds each member's
    file, classes and accuracy, and ``test_acc``: the ensemble's test accuracy (%)."""
    spec = get_spec(dataset, data_root)
    members, classes, rows = [], [], []
    for ckpt in ckpts:
        path = Path(ckpt)
        if not path.exists():
            raise CheckpointError(f"no teacher checkpoint at {path}. Fix: python tools/"
                                  f"train_teacher.py --model {arch} --dataset {dataset} "
                                  f"--classes 0-4 --out {path}")
        stored = safe_load(path)
        meta = stored.get("meta") if isinstance(stored, dict) else None
        meta = meta if isinstance(meta, dict) else {}
        own = meta.get("classes")
        if own is None and meta.get("num_classes", spec.num_classes) != spec.num_classes:
            raise CheckpointError(f"{path} records no class range: retrain it with "
                                  "tools/train_teacher.py --classes a-b")
        own = list(own) if own is not None else list(range(spec.num_classes))
        model = build_model(arch, in_channels=spec.in_channels, num_classes=len(own),
                            kwargs=kwargs)
        meta = load_weights(model, path, arch)
        if meta.get("dataset") not in (None, dataset):
            raise CheckpointError(f"{path} holds a teacher of {meta['dataset']}, not {dataset}: "
                                  "pass teachers of the run's dataset")
        members.append(model)
        classes.append(own)
        rows.append({"ckpt": str(path), "classes": own, "test_acc": meta.get("test_acc")})
    teacher = MultiTeacher(members, classes, spec.num_classes).to(device).eval()
    check_input_size(teacher, f"the teachers {arch}", spec, device)
    ensemble = accuracy(teacher, load_tensors(dataset, data_root), device=device)
    return teacher, {"arch": arch, "dataset": dataset, "members": rows, "test_acc": ensemble}


def load_teachers_of(ref, dataset: str, data_root: str | None, device: str
                     ) -> tuple[MultiTeacher, dict]:
    """``setup_run``'s ``load_teachers`` for a config whose ``teacher_ckpt`` is a list."""
    return load_multi_teacher(ref.name, dataset, list(ref.ckpt), kwargs=ref.kwargs,
                              data_root=data_root, device=device)

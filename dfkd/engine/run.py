"""What every distillation tool builds first: the device, the dataset, the teacher (trained
when it is the missing embedded default), a fresh student, and the critic player."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from dfkd.core.errors import DfkdError
from dfkd.core.io import seed_everything
from dfkd.data import DatasetSpec, get_spec, load_tensors
from dfkd.engine import distributed
from dfkd.engine.player import Player
from dfkd.engine.run_folder import check_out
from dfkd.engine.teacher import load_teacher
from dfkd.metrics import accuracy
from dfkd.nets import build_model, model_ref
from dfkd.nets.shape_check import check_input_size


def resolve_device(name: str) -> torch.device:
    """A torch device, with a clear error when CUDA is asked for but absent."""
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DfkdError(f"--device {name} was asked for, but this machine has no CUDA GPU: "
                        "use --device cpu")
    return device


@dataclass
class RunSetup:
    """What every distillation tool builds first."""

    device: torch.device
    spec: DatasetSpec
    test_set: TensorDataset
    teacher: nn.Module
    teacher_meta: dict
    student: nn.Module


def prepare_device(train_cfg) -> torch.device:
    """The run's device, and torch's CPU thread count where ``train.threads`` sets one."""
    device = resolve_device(train_cfg.device)
    if train_cfg.threads:
        torch.set_num_threads(train_cfg.threads)
    return device


def setup_run(cfg, out: Path, resume: bool, load_teachers=None) -> RunSetup:
    """Device and threads (and, under ``torchrun``, the process group), the run folder
    check, the test set, the teacher (trained when it is the missing embedded default),
    then the seed and a fresh student. ``load_teachers(ref, dataset, data_root, device)``,
    when given, loads the teacher instead (several teachers as one module: amalgamation)."""
    device = prepare_device(cfg.train)
    if distributed.init_from_env(device) > 1 and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    check_out(out, resume)
    root = cfg.data_root or None
    spec = get_spec(cfg.dataset, root)
    test_set = load_tensors(cfg.dataset, root, train=False)
    teacher_ref = model_ref(cfg.teacher, "teacher", cfg.teacher_ckpt)
    student_ref = model_ref(cfg.student.model, "student.model")
    if load_teachers is not None:
        teacher, meta = load_teachers(teacher_ref, cfg.dataset, root, str(device))
    else:
        teacher, meta = load_teacher(teacher_ref.name, cfg.dataset, teacher_ref.ckpt or None,
                                     data_root=root, device=str(device),
                                     kwargs=teacher_ref.kwargs,
                                     train_if_missing=distributed.world_size() == 1)
    seed_everything(cfg.train.seed)
    student = build_model(student_ref.name, in_channels=spec.in_channels,
                          num_classes=spec.num_classes, kwargs=student_ref.kwargs).to(device)
    for role, name, model in (("teacher", teacher_ref.name, teacher),
                              ("student", student_ref.name, student)):
        check_input_size(model, f"the {role} {name}", spec, device)
    return RunSetup(device, spec, test_set, teacher, meta, student)


def own_models_run(device: torch.device, spec: DatasetSpec, test_set: TensorDataset | None,
                   teacher: nn.Module, student: nn.Module, seed: int) -> RunSetup:
    """The :class:`RunSetup` of an API call on models of one's own: both on ``device`` (the
    teacher in eval mode), their input and output shapes checked against ``spec``, the
    teacher's test accuracy where there is a test set, then the seed."""
    teacher, student = teacher.to(device).eval(), student.to(device)
    for role, model in (("teacher", teacher), ("student", student)):
        check_input_size(model, f"the {role} {type(model).__name__}", spec, device)
    teacher_acc = accuracy(teacher, test_set, device=device) if test_set is not None else None
    seed_everything(seed)
    return RunSetup(device, spec, test_set, teacher, {"test_acc": teacher_acc}, student)


def critic_player(knowledge, cfg, total_iters: int, device: torch.device):
    """The loop's critic: the discriminators of the ``student_loss`` block's adversarial
    terms (``adversarial``, ``anc``) under the config's ``critic:`` settings, or None."""
    critics = knowledge.critics() if knowledge is not None else nn.ModuleDict()
    if not len(critics):
        return None
    return Player.from_config("critic", critics.to(device), cfg, total_iters)

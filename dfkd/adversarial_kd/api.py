"""Knowledge distillation with labelled images, from Python, with models of one's own::

    import dfkd
    student = dfkd.adversarial_kd.distill(teacher, student, train_data=(x, y),
                                          student_loss={"ce": 0.1, "kd": 0.9, "adversarial": 1},
                                          epochs=10, out="runs/mine_kd")

The run is the one ``tools/train_kd.py`` makes (same loop, run folder, ``--resume``,
TensorBoard, ``metrics.json``, ``student.pt`` and errors); the networks and the images come
from the caller. ``student_loss`` is any block of the toolkit's knowledge terms, the
adversarial ones (Wang et al. 2018's feature discriminator, its logit form, ANC, KDCAN)
included: their discriminators are the loop's critic.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from dfkd.adversarial_kd.config import KDConfig
from dfkd.adversarial_kd.train import kd_run
from dfkd.core.config import build_config, config_for_images, merge, validate
from dfkd.core.errors import ConfigError
from dfkd.data.specs import DatasetSpec
from dfkd.engine.run import own_models_run, resolve_device
from dfkd.engine.run_folder import check_out
from dfkd.nets.import_path import import_path_of
from dfkd.nets.student_file import student_meta

Labelled = TensorDataset | tuple[torch.Tensor, torch.Tensor]


def distill(teacher: nn.Module, student: nn.Module, *, train_data: Labelled,
            num_classes: int | None = None, test_data: Labelled | None = None,
            student_loss: dict[str, float] | None = None, epochs: int | None = None,
            out: str | Path | None = None, config: str | Path | dict[str, Any] | None = None,
            device: str = "cpu", seed: int | None = None, resume: bool = False) -> nn.Module:
    """Distill ``teacher`` into ``student`` on labelled images; returns the trained student
    (its EMA copy where ``student.ema`` is set), in eval mode.

    ``train_data``/``test_data``: a ``TensorDataset`` of (images, labels) or the tuple, images
    (N, C, H, W) normalized as the teacher expects, labels integer classes. ``num_classes``:
    default the teacher's output width. ``student_loss``: weights of knowledge terms (e.g.
    ``{"ce": 0.1, "kd": 0.9}``; ``adversarial``, ``adversarial_logits``, ``anc``,
    ``kdcan``, ``at``, ``fitnet``, ...), default the
    config's. ``config``: a YAML file or a mapping of config keys over the embedded default
    (``configs/kd/fashion_mnist.yaml``; printed); ``epochs``, ``seed``, ``device``:
    ``train.*``. Without ``test_data`` each epoch measures agreement with the teacher on the
    first 2,000 training images (``train_agreement``). ``out``: the run folder (default
    ``runs/kd_<Teacher>_<Student>``); ``resume`` continues the run in it exactly.
    """
    train = _labelled(train_data, "train_data")
    images = train.tensors[0]
    if images.dim() != 4 or images.shape[2] != images.shape[3]:
        raise ConfigError(f"train_data images must be square (N, C, size, size), got "
                          f"{tuple(images.shape)}")
    device_ = resolve_device(device)
    teacher = teacher.to(device_).eval()
    classes = num_classes or _output_width(teacher, images[:1].to(device_))
    channels, size = images.shape[1], images.shape[2]
    spec = DatasetSpec("custom", channels, size, classes, (0.0,) * channels, (1.0,) * channels)
    _check_labels(train, classes, "train_data")
    test_set = None
    if test_data is not None:
        test_set = _labelled(test_data, "test_data")
        _check_labels(test_set, classes, "test_data")
        if test_set.tensors[0].shape[1:] != images.shape[1:]:
            raise ConfigError(f"test_data images are {tuple(test_set.tensors[0].shape[1:])}, "
                              f"train_data's {tuple(images.shape[1:])}")
    cfg = _config(config, channels, classes, student_loss, epochs, seed, device, teacher,
                  student)
    out = Path(out or f"runs/kd_{type(teacher).__name__}_{type(student).__name__}")
    check_out(out, resume)
    run = own_models_run(device_, spec, test_set, teacher, student, cfg.train.seed)
    return kd_run(cfg, run, train, out, resume,
                  {"teacher": type(teacher).__name__, "student": type(student).__name__},
                  student_meta(student, None, None, spec, dataset="custom", method="kd",
                               teacher=cfg.teacher))


def _config(config, channels: int, classes: int, student_loss, epochs, seed, device,
            teacher: nn.Module, student: nn.Module) -> KDConfig:
    overrides = config if isinstance(config, dict) else {}
    path = (Path(config) if isinstance(config, (str, Path))
            else config_for_images("kd", channels, classes))
    if not isinstance(config, (str, Path)):
        print(f"config: {path} (data-driven KD's defaults)")
    cfg = build_config(KDConfig(), [path])
    train = {k: v for k, v in (("epochs", epochs), ("seed", seed), ("device", device))
             if v is not None}
    given = {**overrides, "dataset": "custom",
             "teacher": import_path_of(teacher) or type(teacher).__name__,
             "train": {**overrides.get("train", {}), **train}}
    if student_loss is not None:
        given["student_loss"] = dict(student_loss)
    cfg = validate(merge(cfg, given))
    if cfg.augment.mixup:
        raise ConfigError("augment.mixup blends images whose true labels would then be wrong; "
                          "data-driven KD takes crop_padding and flip only")
    if cfg.method != "kd" or cfg.options:
        raise ConfigError(f"distill runs data-driven KD (method kd, no options); method "
                          f"{cfg.method} runs with tools/train_kd.py --config FILE")
    return dataclasses.replace(cfg, student=dataclasses.replace(
        cfg.student, model=import_path_of(student) or type(student).__name__))


def _labelled(data, what: str) -> TensorDataset:
    if isinstance(data, (tuple, list)) and len(data) == 2:
        data = TensorDataset(*data)
    if not isinstance(data, TensorDataset) or len(data.tensors) != 2:
        raise ConfigError(f"{what} must be a TensorDataset of (images, labels) or a tuple "
                          "(images, labels)")
    return data


def _check_labels(data: TensorDataset, classes: int, what: str) -> None:
    images, labels = data.tensors
    if labels.dtype != torch.long or labels.dim() != 1 or len(labels) != len(images):
        raise ConfigError(f"{what}: labels must be one integer class (torch.long) per image")
    if labels.min() < 0 or labels.max() >= classes:
        raise ConfigError(f"{what}: labels must be classes in [0, {classes}), found "
                          f"{int(labels.min())}..{int(labels.max())}")


def _output_width(teacher: nn.Module, x: torch.Tensor) -> int:
    try:
        with torch.no_grad():
            return int(teacher(x).shape[-1])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0][:160]
        raise ConfigError(f"the teacher {type(teacher).__name__} cannot take the images of "
                          f"{tuple(x.shape[1:])} ({first})") from None

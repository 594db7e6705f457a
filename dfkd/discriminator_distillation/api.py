"""Data-free distillation from Python, with models of one's own::

    import dfkd
    student = dfkd.data_free.distill(teacher, student, method="dafl", image_shape=(1, 28, 28),
                                     num_classes=10, iters=2000, out="runs/mine")

The run is the one ``tools/train_dfkd.py`` makes (same loop, run folder, ``--resume``,
TensorBoard, ``metrics.json``, ``student.pt`` and errors); only the networks come from the
caller instead of the model zoo.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from dfkd.cli import with_method_options
from dfkd.core.config import build_config, config_for_images, merge, validate
from dfkd.core.errors import ConfigError
from dfkd.data.specs import DatasetSpec
from dfkd.discriminator_distillation.config import DFKDConfig
from dfkd.discriminator_distillation.registry import METHODS
from dfkd.discriminator_distillation.train import distill_run
from dfkd.engine.run import own_models_run, resolve_device
from dfkd.engine.run_folder import check_out
from dfkd.nets.import_path import import_path_of
from dfkd.nets.student_file import student_meta

TestData = TensorDataset | tuple[torch.Tensor, torch.Tensor]


def distill(teacher: nn.Module, student: nn.Module, *, method: str = "dafl",
            image_shape: tuple[int, int, int], num_classes: int,
            out: str | Path | None = None, iters: int | None = None,
            options: dict[str, Any] | None = None,
            config: str | Path | dict[str, Any] | None = None,
            test_data: TestData | None = None, device: str = "cpu", seed: int | None = None,
            resume: bool = False, mean: tuple[float, ...] | None = None,
            std: tuple[float, ...] | None = None) -> nn.Module:
    """Distill ``teacher`` into ``student`` without data, with a data-free ``method``
    (``dafl``, ``dfad``, ``zskt``, ``mad``, ``cgdd``, ...: ``dfkd.discriminator_distillation
    .METHODS``); returns the trained student (its EMA copy where ``student.ema`` is set), in
    eval mode.

    ``image_shape``: (channels, size, size) of the teacher's inputs, which the generator
    learns to synthesize in the teacher's own input space (normalized as the teacher was
    trained); ``mean``/``std`` only map samples back to [0, 1] for TensorBoard.
    ``config``: a YAML file or a mapping of config keys; by default the method's config for
    the embedded dataset nearest in shape (printed). ``options``: the method's own options
    (its ``Options`` dataclass). ``iters``, ``seed``, ``device``: ``train.*`` of the config.
    ``test_data``: labelled images (a ``TensorDataset`` or ``(images, labels)``) if there
    are any; without them the run measures teacher agreement and collapse figures only.
    ``out``: the run folder (default ``runs/<method>_<Teacher>_<Student>``); ``resume``
    continues the run in it exactly.
    """
    METHODS.get(method)
    channels, height, width = _shape(image_shape)
    if height != width:
        raise ConfigError(f"image_shape {tuple(image_shape)}: the generators make square "
                          "images; resize to size×size")
    cfg = _config(method, config, channels, num_classes, iters, seed, device, options, teacher,
                  student)
    spec = DatasetSpec("custom", channels, height, num_classes,
                       tuple(mean or (0.0,) * channels), tuple(std or (1.0,) * channels))
    device_ = resolve_device(cfg.train.device)
    out = Path(out or f"runs/{method}_{type(teacher).__name__}_{type(student).__name__}")
    check_out(out, resume)
    test_set = _test_set(test_data, spec)
    run = own_models_run(device_, spec, test_set, teacher, student, cfg.train.seed)
    return distill_run(cfg, run, out, resume, student_meta(
        student, None, None, spec, dataset="custom", method=method, teacher=cfg.teacher))


def _shape(image_shape) -> tuple[int, int, int]:
    if len(image_shape) != 3 or not all(isinstance(n, int) and n > 0 for n in image_shape):
        raise ConfigError(f"image_shape must be (channels, height, width), got {image_shape!r}")
    return tuple(image_shape)


def _config(method: str, config, channels: int, num_classes: int, iters, seed, device, options,
            teacher: nn.Module, student: nn.Module) -> DFKDConfig:
    """The method's config (a file, or the nearest embedded one under a mapping of keys),
    with the call's arguments applied and its options read into the method's dataclass."""
    overrides = config if isinstance(config, dict) else {}
    path = (Path(config) if isinstance(config, (str, Path))
            else config_for_images(method, channels, num_classes))
    if not isinstance(config, (str, Path)):
        print(f"config: {path} ({method}'s defaults for {channels}-channel images of "
              f"{num_classes} classes)")
    cfg = build_config(DFKDConfig(), [path])
    train = {k: v for k, v in (("iters", iters), ("seed", seed), ("device", device))
             if v is not None}
    given = {**overrides, "method": method, "dataset": "custom",
             "teacher": import_path_of(teacher) or type(teacher).__name__,
             "train": {**overrides.get("train", {}), **train}}
    if options is not None:
        given["options"] = {**cfg.options, **overrides.get("options", {}), **options}
    cfg = validate(merge(cfg, given))
    cfg = dataclasses.replace(cfg, student=dataclasses.replace(
        cfg.student, model=import_path_of(student) or type(student).__name__))
    return with_method_options(cfg, METHODS)


def _test_set(test_data, spec: DatasetSpec) -> TensorDataset | None:
    if test_data is None:
        return None
    if isinstance(test_data, (tuple, list)) and len(test_data) == 2:
        test_data = TensorDataset(*test_data)
    if not isinstance(test_data, TensorDataset) or len(test_data.tensors) != 2:
        raise ConfigError("test_data must be a TensorDataset of (images, labels) or a tuple "
                          "(images, labels)")
    images, labels = test_data.tensors
    if tuple(images.shape[1:]) != (spec.in_channels, spec.image_size, spec.image_size):
        raise ConfigError(f"test_data images are {tuple(images.shape[1:])}, image_shape says "
                          f"{(spec.in_channels, spec.image_size, spec.image_size)}")
    if labels.dtype != torch.long or labels.min() < 0 or labels.max() >= spec.num_classes:
        raise ConfigError(f"test_data labels must be integer classes in [0, {spec.num_classes})")
    return test_data

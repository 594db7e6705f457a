"""KDGAN's run (``tools/train_kd.py --config configs/kd/fashion_mnist_kdgan.yaml``, or any
KD config with ``method: kdgan``): the student, the teacher and a discriminator trained
together on the real training set (``kdgan.KDGAN``). The teacher is a copy of the run's
pretrained teacher and keeps training in the game; its checkpoint file is not changed."""
from __future__ import annotations

import copy
from pathlib import Path

import torch.nn as nn
from torch.utils.data import TensorDataset

from dfkd.adversarial_kd.config import KDConfig
from dfkd.adversarial_kd.kdgan import KDGAN, KDGANOptions
from dfkd.adversarial_kd.setup import RealDataSetup
from dfkd.core.config import to_dict
from dfkd.core.errors import ConfigError
from dfkd.core.registry import UnknownNameError
from dfkd.engine import AdversarialLoop, Player
from dfkd.engine.config import OptimConfig, PlayerConfig
from dfkd.engine.run import RunSetup
from dfkd.engine.run_folder import finish_run, start_run
from dfkd.metrics import accuracy
from dfkd.nets import build_model


def check_kdgan_config(cfg: KDConfig) -> None:
    """The KD config's sections KDGAN does not read must not look as if they were used."""
    if cfg.augment.flip or cfg.augment.crop_padding or cfg.augment.mixup:
        raise ConfigError("KDGAN takes no augment: its discriminator judges the labels of the "
                          "training images themselves; remove the augment: section")


def build_discriminator(cfg: KDConfig, run: RunSetup) -> nn.Module | None:
    """D from ``critic.model`` (a fresh classifier), or None: KDGAN copies the teacher."""
    if not cfg.critic.model:
        return None
    try:
        return build_model(cfg.critic.model, in_channels=run.spec.in_channels,
                           num_classes=run.spec.num_classes).to(run.device)
    except UnknownNameError as exc:
        raise ConfigError(f"critic.model: {exc} Set it to a classifier name, or leave it "
                          "empty for a copy of the teacher") from None


def kdgan_run(cfg: KDConfig, run: RunSetup, train: TensorDataset, out: Path, resume: bool,
              names: dict[str, str], student_file: dict | None = None) -> nn.Module:
    """Play KDGAN on the labelled images ``train``; one evaluation per epoch of the student
    (``acc``) and of the teacher in the game (``teacher_acc_in_game``). Returns the student,
    in eval mode. ``cfg.options`` is a :class:`KDGANOptions` (read by the tool)."""
    check_kdgan_config(cfg)
    if run.test_set is None:
        raise ConfigError("KDGAN is measured on the dataset's labelled test images, and this "
                          "dataset has none")
    options: KDGANOptions = cfg.options
    if cfg.train.train_subset:
        train = TensorDataset(*(t[:cfg.train.train_subset] for t in train.tensors))
    print("kdgan: the teacher keeps training in the game (from a copy of its checkpoint, "
          "which is not changed)")
    teacher = copy.deepcopy(run.teacher)
    method = KDGAN(teacher, run.student, build_discriminator(cfg, run), options, train,
                   RealDataSetup(cfg.train.batch_size, cfg.train.seed, run.device))
    iters = cfg.train.epochs * method.steps_per_epoch
    student = Player.from_config("student", run.student, cfg.student, iters)
    discriminator = Player.from_config("discriminator", method.discriminator, cfg.critic, iters)
    teacher_cfg = PlayerConfig(steps=options.teacher_steps,
                               optim=OptimConfig(name="adam", lr=options.teacher_lr))
    teacher_player = Player.from_config("teacher", method.teacher, teacher_cfg, iters)
    evaluated = student.ema.module if student.ema else run.student

    def evaluate() -> dict[str, float]:
        return {"acc": accuracy(evaluated, run.test_set, device=run.device),
                "teacher_acc_in_game": accuracy(method.teacher, run.test_set, device=run.device)}

    logger = start_run(out, cfg)
    loop = AdversarialLoop(
        method, student, discriminator, iters, out, evaluate=evaluate,
        eval_every=method.steps_per_epoch, log_every=cfg.train.log_every, logger=logger,
        identity={"method": "kdgan", "dataset": cfg.dataset, **names}, critic=teacher_player,
        amp=cfg.train.amp)
    finish_run(loop, resume, out, logger, cfg, run.teacher_meta,
               {"method": "kdgan", "options": to_dict(options), "train_images": len(train)},
               steps_per_epoch=method.steps_per_epoch, student_meta=student_file)
    return evaluated.eval()

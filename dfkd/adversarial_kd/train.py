"""Classic distillation with the real training data from the command line
(``tools/train_kd.py``): the baseline data-free results are measured against."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch.nn as nn
from torch.utils.data import TensorDataset

from dfkd.adversarial_kd.config import KDConfig
from dfkd.adversarial_kd.data_driven import DataDrivenKD, KDOptions
from dfkd.adversarial_kd.setup import RealDataSetup
from dfkd.cli import add_run_args, build_run_config
from dfkd.core.errors import ConfigError
from dfkd.core.registry import DATASETS
from dfkd.data import load_tensors
from dfkd.data.augment import build_augment
from dfkd.engine import AdversarialLoop, Player, distributed
from dfkd.engine.run import critic_player, setup_run
from dfkd.engine.run_folder import finish_run, start_run
from dfkd.knowledge import StudentLoss
from dfkd.metrics import accuracy
from dfkd.nets import model_ref
from dfkd.nets.student_file import student_meta


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=None, help="passes over the training set")
    add_run_args(parser)
    return parser.parse_args(argv)


def load_config(args: argparse.Namespace) -> KDConfig:
    DATASETS.get(args.dataset)
    cfg = build_run_config(KDConfig(), "kd", args, {"train.epochs": args.epochs})
    if cfg.dataset != args.dataset:
        raise ConfigError("set the dataset with --dataset, not in the config")
    if cfg.augment.mixup:
        raise ConfigError("augment.mixup blends images whose true labels would then be wrong; "
                          "data-driven KD takes crop_padding and flip only")
    return cfg


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = load_config(args)
    teacher_ref = model_ref(cfg.teacher, "teacher", cfg.teacher_ckpt)
    student_ref = model_ref(cfg.student.model, "student.model")
    out = Path(args.out or f"runs/kd_{teacher_ref.label}_{student_ref.label}_{cfg.dataset}")
    run = setup_run(cfg, out, args.resume)
    device, student = run.device, run.student
    train = load_tensors(cfg.dataset, cfg.data_root or None, train=True)
    if cfg.train.train_subset:
        train = TensorDataset(*(t[:cfg.train.train_subset] for t in train.tensors))
    knowledge = StudentLoss(cfg.student_loss, run.teacher, student, train.tensors[0][:2].to(device),
                            cfg.knowledge).to(device)
    critics = knowledge.critics()  # the adversarial terms' discriminators: the loop's critic
    setup = RealDataSetup(cfg.train.batch_size, cfg.train.seed, device,
                          augment=build_augment(cfg.augment, run.spec.image_size),
                          knowledge=knowledge)
    method = DataDrivenKD(run.teacher, student, critics if len(critics) else None, KDOptions(),
                          train, setup)
    iters = cfg.train.epochs * method.steps_per_epoch
    player = Player.from_config("student", student, cfg.student, iters,
                                aux=nn.ModuleDict({"knowledge": knowledge}))
    critic = critic_player(knowledge, cfg.critic, iters, device)
    evaluated = player.ema.module if player.ema else student
    distributed.reseed_for_rank(cfg.train.seed)  # each process its own random views
    logger = start_run(out, cfg)
    loop = AdversarialLoop(
        method, player, None, iters, out,
        evaluate=lambda: {"acc": accuracy(evaluated, run.test_set, device=device)},
        eval_every=method.steps_per_epoch, log_every=cfg.train.log_every, logger=logger,
        identity={"method": "kd", "dataset": cfg.dataset, "teacher": teacher_ref.label,
                  "student": student_ref.label}, critic=critic, amp=cfg.train.amp)
    return finish_run(loop, args.resume, out, logger, cfg, run.teacher_meta,
                      {"method": "kd", "student_loss": cfg.student_loss,
                       "train_images": len(train)},
                      steps_per_epoch=method.steps_per_epoch,
                      student_meta=student_meta(student, student_ref.name, student_ref.kwargs,
                                                run.spec, dataset=cfg.dataset, method="kd",
                                                teacher=teacher_ref.name))

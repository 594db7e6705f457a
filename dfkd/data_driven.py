"""Classic knowledge distillation with the real training data (``tools/train_kd.py``).

The baseline that data-free results are measured against: the same teacher, student,
``student_loss:`` terms and loop as ``train_dfkd.py``, but the student's batches are
the training set's images with their true labels (CE and the label-based terms use them).
The loop runs without an adversary; an iteration is one student batch, an epoch one pass
over a random order of the training set, reshuffled from (seed, epoch) so a resumed run
sees exactly the batches it would have seen.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from dfkd.augment import build_augment
from dfkd.cli import (add_run_args, build_run_config, critic_player, finish_run, setup_run,
                      start_run)
from dfkd.config import KDConfig
from dfkd.data import load_tensors
from dfkd.data.epoch_order import EpochOrder
from dfkd.engine import AdversarialLoop, Player, StatelessMethod, distributed
from dfkd.errors import ConfigError
from dfkd.knowledge import StudentLoss
from dfkd.metrics import accuracy
from dfkd.registry import DATASETS


class DataDrivenKD(StatelessMethod):
    """The student's side of the loop on real data: one batch per iteration."""

    def __init__(self, knowledge: StudentLoss, train: TensorDataset, batch_size: int, seed: int,
                 device: torch.device, augment: nn.Module | None = None) -> None:
        self.knowledge = knowledge
        self.images, self.labels = train.tensors
        if len(self.images) < batch_size:
            raise ConfigError(f"train.batch_size {batch_size} exceeds the {len(self.images)} "
                              "training images")
        self.order = EpochOrder(len(self.images), batch_size, seed)
        self.steps_per_epoch = self.order.steps_per_epoch
        # under torchrun each process takes its slice of the same global batch
        share = distributed.local_batch(batch_size)
        self.shard = slice(distributed.rank() * share, (distributed.rank() + 1) * share)
        self.device = device
        self.augment = augment

    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The iteration's images (a random view of them with ``augment``) and labels."""
        index = self.order.indices(iteration)[self.shard]
        images = self.images[index].to(self.device)
        if self.augment is not None:
            with torch.no_grad():
                images = self.augment(images)
        return images, self.labels[index].to(self.device)

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        return self.knowledge(*self.batch(iteration))

    def critic_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """The adversarial terms' discriminators on the iteration's batch."""
        return self.knowledge.critic_loss(*self.batch(iteration))

    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        raise RuntimeError("data-driven KD has no adversary")

    def log_media(self, logger, iteration: int) -> None:
        pass


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
    out = Path(args.out or f"runs/kd_{cfg.teacher}_{cfg.student.model}_{cfg.dataset}")
    run = setup_run(cfg, out, args.resume)
    device, student = run.device, run.student
    train = load_tensors(cfg.dataset, cfg.data_root or None, train=True)
    if cfg.train.train_subset:
        train = TensorDataset(*(t[:cfg.train.train_subset] for t in train.tensors))
    knowledge = StudentLoss(cfg.student_loss, run.teacher, student, train.tensors[0][:2].to(device),
                            cfg.knowledge).to(device)
    method = DataDrivenKD(knowledge, train, cfg.train.batch_size, cfg.train.seed, device,
                          build_augment(cfg.augment, run.spec.image_size))
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
        identity={"method": "kd", "dataset": cfg.dataset, "teacher": cfg.teacher,
                  "student": cfg.student.model}, critic=critic, amp=cfg.train.amp)
    return finish_run(loop, args.resume, out, logger, cfg, run.teacher_meta,
                      {"method": "kd", "student_loss": cfg.student_loss,
                       "train_images": len(train)},
                      steps_per_epoch=method.steps_per_epoch)

"""Classic distillation with the real training data from the command line
(``tools/train_kd.py``): the baseline data-free results are measured against."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from dfkd.adversarial_kd.config import KDConfig
from dfkd.adversarial_kd.data_driven import DataDrivenKD, KDOptions
from dfkd.adversarial_kd.setup import RealDataSetup
from dfkd.cli import add_run_args, build_run_config
from dfkd.core.errors import ConfigError
from dfkd.core.modes import eval_mode
from dfkd.core.registry import DATASETS
from dfkd.data import load_tensors
from dfkd.data.augment import build_augment
from dfkd.engine import AdversarialLoop, Player, distributed
from dfkd.engine.run import RunSetup, critic_player, setup_run
from dfkd.engine.run_folder import finish_run, start_run
from dfkd.knowledge import StudentLoss
from dfkd.metrics import accuracy
from dfkd.nets import model_ref
from dfkd.nets.student_file import student_meta

#: training images a run without test data measures teacher agreement on
AGREEMENT_IMAGES = 2000


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
    train = load_tensors(cfg.dataset, cfg.data_root or None, train=True)
    kd_run(cfg, run, train, out, args.resume,
           {"teacher": teacher_ref.label, "student": student_ref.label},
           student_meta(run.student, student_ref.name, student_ref.kwargs, run.spec,
                        dataset=cfg.dataset, method="kd", teacher=teacher_ref.name))
    return 0


def kd_run(cfg: KDConfig, run: RunSetup, train: TensorDataset, out: Path, resume: bool,
           names: dict[str, str], student_file: dict | None = None) -> nn.Module:
    """Distill ``run.teacher`` into ``run.student`` on the labelled images ``train`` with
    the config's ``student_loss`` block, one evaluation per epoch on ``run.test_set`` (None:
    the run measures agreement with the teacher on the first training images instead).
    ``names``: the teacher's and student's names in the checkpoints' identity;
    ``student_file``: the metadata ``student.pt`` is written with. Returns the evaluated
    student (its EMA copy where ``student.ema`` is set), in eval mode."""
    device, student = run.device, run.student
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
    if run.test_set is not None:
        def evaluate() -> dict[str, float]:
            return {"acc": accuracy(evaluated, run.test_set, device=device)}
    else:  # no labelled test images: agreement with the teacher on training images
        bank = train.tensors[0][:AGREEMENT_IMAGES]
        teacher_labels = predictions(run.teacher, bank, device)

        def evaluate() -> dict[str, float]:
            agree = (predictions(evaluated, bank, device) == teacher_labels).float().mean()
            return {"train_agreement": 100.0 * agree.item()}
    distributed.reseed_for_rank(cfg.train.seed)  # each process its own random views
    logger = start_run(out, cfg)
    loop = AdversarialLoop(
        method, player, None, iters, out, evaluate=evaluate,
        best_key="acc" if run.test_set is not None else "train_agreement",
        eval_every=method.steps_per_epoch, log_every=cfg.train.log_every, logger=logger,
        identity={"method": "kd", "dataset": cfg.dataset, **names}, critic=critic,
        amp=cfg.train.amp)
    finish_run(loop, resume, out, logger, cfg, run.teacher_meta,
               {"method": "kd", "student_loss": cfg.student_loss, "train_images": len(train)},
               steps_per_epoch=method.steps_per_epoch, student_meta=student_file)
    return evaluated.eval()


def predictions(model: nn.Module, images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``model``'s classes for ``images``, in eval mode, without a graph."""
    with eval_mode(model), torch.no_grad():
        return torch.cat([model(x.to(device)).argmax(1).cpu() for x in images.split(512)])

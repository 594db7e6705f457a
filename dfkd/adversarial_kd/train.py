"""Classic distillation with the real training data from the command line
(``tools/train_kd.py``): the baseline data-free results are measured against; with
``method: kdgan`` in the config (configs/kd/fashion_mnist_kdgan.yaml) KDGAN's three-player
game instead (``train_kdgan.kdgan_run``)."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from dfkd.adversarial_kd.config import KDConfig
from dfkd.adversarial_kd.data_driven import DataDrivenKD, KDOptions
from dfkd.adversarial_kd.kdgan import check_options
from dfkd.adversarial_kd.registry import METHODS
from dfkd.adversarial_kd.setup import RealDataSetup
from dfkd.adversarial_kd.train_kdgan import kdgan_run
from dfkd.cli import add_run_args, build_run_config
from dfkd.core.config import read_options
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
    if cfg.method not in ("kd", "kdgan"):
        METHODS.get(cfg.method)  # an unknown name: the registry's error, with the known ones
        raise ConfigError(f"method {cfg.method} has its own tool (tools/train_{cfg.method}.py);"
                          " tools/train_kd.py runs method kd or kdgan")
    if cfg.method == "kdgan" and args.loss:
        raise ConfigError("--loss sets data-driven KD's student_loss block; KDGAN's loss is its "
                          "own: set options.alpha, options.beta, options.gamma with --set")
    options = read_options(METHODS.get(cfg.method).Options, cfg.options, cfg.method)
    if cfg.method == "kdgan":
        check_options(options)  # now, before the data and the teacher are loaded
    return dataclasses.replace(cfg, options=options)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = load_config(args)
    teacher_ref = model_ref(cfg.teacher, "teacher", cfg.teacher_ckpt)
    student_ref = model_ref(cfg.student.model, "student.model")
    out = Path(args.out or f"runs/{cfg.method}_{teacher_ref.label}_{student_ref.label}_"
                           f"{cfg.dataset}")
    run = setup_run(cfg, out, args.resume)
    train = load_tensors(cfg.dataset, cfg.data_root or None, train=True)
    play = kdgan_run if cfg.method == "kdgan" else kd_run
    play(cfg, run, train, out, args.resume,
         {"teacher": teacher_ref.label, "student": student_ref.label},
         student_meta(run.student, student_ref.name, student_ref.kwargs, run.spec,
                      dataset=cfg.dataset, method=cfg.method, teacher=teacher_ref.name))
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

"""Build and run a data-free distillation from a config (``tools/train_dfkd.py``)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn as nn

import dfkd.discriminator_distillation.methods  # noqa: F401  (registers every method)
from dfkd.cli import add_run_args, build_run_config, with_method_options
from dfkd.core.config import CONFIG_DIR, config_for_images
from dfkd.core.errors import ConfigError
from dfkd.core.registry import DATASETS
from dfkd.data import get_spec
from dfkd.data.augment import build_augment
from dfkd.discriminator_distillation.config import DFKDConfig
from dfkd.discriminator_distillation.multi_teacher import load_teachers_of
from dfkd.discriminator_distillation.registry import METHODS
from dfkd.discriminator_distillation.replay import ReplayBuffer
from dfkd.discriminator_distillation.setup import DataFreeSetup
from dfkd.engine import AdversarialLoop, Player, distributed
from dfkd.engine.player import build_ema
from dfkd.engine.run import RunSetup, critic_player, setup_run
from dfkd.engine.run_folder import finish_run, start_run
from dfkd.knowledge import StudentLoss
from dfkd.metrics import accuracy
from dfkd.metrics.collapse import collapse_warnings
from dfkd.nets import model_ref
from dfkd.nets.quantize import quantize_student
from dfkd.nets.student_file import student_meta
from generators import build_generator


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--method", default="dafl", help=f"one of {', '.join(METHODS.names())}")
    parser.add_argument("--iters", type=int, default=None, help="total iterations")
    add_run_args(parser)
    return parser.parse_args(argv)


def load_config(args: argparse.Namespace) -> DFKDConfig:
    METHODS.get(args.method)
    DATASETS.get(args.dataset)
    if not args.config and not (CONFIG_DIR / args.method / f"{args.dataset}.yaml").exists():
        spec = get_spec(args.dataset, args.data_root)  # images of one's own: nearest defaults
        args.config = str(config_for_images(args.method, spec.in_channels, spec.num_classes))
        print(f"config: {args.config} ({args.method}'s defaults for {spec.in_channels}-channel "
              f"images of {spec.num_classes} classes; --config FILE to choose another)")
    cfg = build_run_config(DFKDConfig(), args.method, args,
                           {"method": args.method, "train.iters": args.iters})
    if cfg.method != args.method or cfg.dataset != args.dataset:
        raise ConfigError("set the method and dataset with --method/--dataset, not in the config")
    return with_method_options(cfg, METHODS)


def default_out(cfg: DFKDConfig) -> Path:
    """``runs/<method>_<teacher>_<student>_<dataset>``."""
    teacher = model_ref(cfg.teacher, "teacher").label
    student = model_ref(cfg.student.model, "student.model").label
    return Path(f"runs/{cfg.method}_{teacher}_{student}_{cfg.dataset}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = load_config(args)
    out = Path(args.out) if args.out else default_out(cfg)
    several = isinstance(cfg.teacher_ckpt, list)  # teachers of class subsets (amalgamation)
    run = setup_run(cfg, out, args.resume, load_teachers_of if several else None)
    student = model_ref(cfg.student.model, "student.model")
    distill_run(cfg, run, out, args.resume, student_meta(
        run.student, student.name, student.kwargs, run.spec, dataset=cfg.dataset,
        method=cfg.method, teacher=model_ref(cfg.teacher, "teacher").name))
    return 0


def distill_run(cfg: DFKDConfig, run: RunSetup, out: Path, resume: bool,
                student_file: dict | None = None) -> nn.Module:
    """Distill ``run.teacher`` into ``run.student`` as ``cfg`` says (its ``options`` already
    read into the method's dataclass), in the run folder ``out``; ``run.test_set`` None
    measures what needs no labelled images (teacher agreement, collapse figures).
    ``student_file``: the metadata ``student.pt`` is written with. Returns the student
    that is measured and kept (its EMA copy where ``student.ema`` is set), in eval mode."""
    device, spec, teacher, student = run.device, run.spec, run.teacher, run.student
    # student.quantize: fake-quant layers now, before any optimizer or hook sees the student
    student = quantize_student(student, cfg.student.quantize, ema=cfg.student.ema)
    # channels-last weights: a student's training step runs 1.2-1.7x faster on CPU
    # (lenet5_half 1.5x, resnet18 1.3x; one thread), the teacher's forward does not gain
    student = student.to(memory_format=torch.channels_last)
    # channels-last: the generator's convolutions run ~1.8x faster on CPU in this layout
    generator = build_generator(cfg.generator.model, cfg.generator.nz, cfg.generator.ngf,
                                spec.image_size, spec.in_channels, spec.num_classes,
                                cfg.generator.members, spec.mean, spec.std).to(
                                    device, memory_format=torch.channels_last)
    knowledge = None
    if cfg.student_loss:  # replaces the method's own student loss; its parts train with S
        example = torch.zeros(2, spec.in_channels, spec.image_size, spec.image_size,
                              device=device)
        knowledge = StudentLoss(cfg.student_loss, teacher, student, example,
                                cfg.knowledge).to(device)
    iters = cfg.train.iters
    generator_ema = build_ema(generator, cfg.generator.ema)  # MAD's momentum generator
    replay = (ReplayBuffer(cfg.replay.capacity, cfg.replay.policy)
              if cfg.replay.capacity else None)
    setup = DataFreeSetup(nz=cfg.generator.nz,
                          batch_size=distributed.local_batch(cfg.train.batch_size),
                          replay=replay, replay_ratio=cfg.replay.ratio,
                          augment=build_augment(cfg.augment, spec.image_size),
                          bn_weight=cfg.generator.bn_weight, diversity=cfg.generator.diversity,
                          generator_ema=generator_ema.module if generator_ema else None,
                          knowledge=knowledge)
    method = METHODS.get(cfg.method)(teacher, student, generator, cfg.options, spec, setup)
    parts = method.parts()
    unknown = sorted(set(parts) - {"student", "generator"})
    if unknown:
        raise ConfigError(f"method {cfg.method}: parts() names player {unknown[0]!r}; "
                          "use 'student' or 'generator'")
    student_aux = {"knowledge": knowledge} if knowledge else {}
    if "student" in parts:
        student_aux["method"] = parts["student"].to(device)
    student_player = Player.from_config("student", student, cfg.student, iters,
                                        aux=nn.ModuleDict(student_aux))
    generator_player = Player.from_config(
        "generator", generator, cfg.generator, iters, ema=generator_ema,
        aux=nn.ModuleDict({"method": parts["generator"].to(device)} if "generator" in parts
                          else {}))
    critic = critic_player(knowledge, cfg.critic, iters, device)
    distributed.reseed_for_rank(cfg.train.seed)  # each process its own latents
    logger = start_run(out, cfg)
    # with student.ema, the averaged weights are the student that is measured and kept
    evaluated = student_player.ema.module if student_player.ema else student

    def evaluate() -> dict[str, float]:
        figures = ({} if run.test_set is None
                   else {"acc": accuracy(evaluated, run.test_set, device=device)})
        figures.update(early_bank_acc=method.early_bank_agreement(loop.iteration, evaluated),
                       **method.collapse_figures())
        for warning in collapse_warnings(figures["class_entropy"], figures["sample_diversity"],
                                         cfg.monitor.min_class_entropy,
                                         cfg.monitor.min_sample_diversity):
            print(f"warning: possible mode collapse at iteration {loop.iteration}: {warning}",
                  file=sys.stderr)
        return figures

    loop = AdversarialLoop(
        method, student_player, generator_player, iters, out, evaluate=evaluate,
        # without labelled images best.pt keeps the student that agrees most with the teacher
        # on the fixed bank of synthetic samples
        best_key="acc" if run.test_set is not None else "early_bank_acc",
        eval_every=cfg.train.eval_every, log_every=cfg.train.log_every,
        image_every=cfg.train.image_every, logger=logger,
        identity={"method": cfg.method, "dataset": cfg.dataset,
                  "teacher": model_ref(cfg.teacher, "teacher").label,
                  "student": model_ref(cfg.student.model, "student.model").label},
        critic=critic, amp=cfg.train.amp)
    finish_run(loop, resume, out, logger, cfg, run.teacher_meta, {"method": cfg.method},
               student_meta=student_file)
    # handed back in the default layout, computing exactly as the saved student.pt loads
    return evaluated.to(memory_format=torch.contiguous_format).eval()

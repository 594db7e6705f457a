"""Build and run a data-free distillation from a config (``tools/train_dfkd.py``)."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
import yaml

import dfkd.methods  # noqa: F401  (registers the methods)
from dfkd.augment import build_augment
from dfkd.cli import add_common_args, resolve_device, write_json
from dfkd.config import CONFIG_DIR, DFKDConfig, build_config, to_dict
from dfkd.data import get_spec, load_tensors
from dfkd.engine import AdversarialLoop, Player, RunLogger, seed_everything
from dfkd.errors import ConfigError, DfkdError
from dfkd.metrics import accuracy
from dfkd.models import build_model
from dfkd.registry import DATASETS, METHODS
from dfkd.replay import ReplayBuffer
from dfkd.teacher import load_teacher
from generators import build_generator


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--method", default="dafl", help=f"one of {', '.join(METHODS.names())}")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--teacher", default=None, help="teacher architecture (e.g. lenet5)")
    parser.add_argument("--student", default=None, help="student architecture")
    parser.add_argument("--teacher-ckpt", default=None, help="teacher weights (.pt/.pth)")
    parser.add_argument("--config", default=None,
                        help="YAML config (default: configs/<method>/<dataset>.yaml)")
    parser.add_argument("--iters", type=int, default=None, help="total iterations")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--out", default=None, help="run folder (default runs/<method>_...)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/latest.pt")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config key, e.g. train.iters=500")
    add_common_args(parser)
    return parser.parse_args(argv)


def config_path(method: str, dataset: str) -> Path:
    path = CONFIG_DIR / method / f"{dataset}.yaml"
    if not path.exists():
        have = sorted(str(p.relative_to(CONFIG_DIR)) for p in CONFIG_DIR.glob(f"{method}/*.yaml"))
        raise ConfigError(f"no config {path} for --method {method} --dataset {dataset}; "
                          f"available: {', '.join(have) or 'none'}. Pass --config FILE")
    return path


def load_config(args: argparse.Namespace) -> DFKDConfig:
    METHODS.get(args.method)
    DATASETS.get(args.dataset)
    flags = {"method": args.method, "dataset": args.dataset, "teacher": args.teacher,
             "teacher_ckpt": args.teacher_ckpt, "data_root": args.data_root,
             "student.model": args.student, "train.iters": args.iters,
             "train.batch_size": args.batch_size, "train.device": args.device,
             "train.seed": args.seed}
    overrides = [f"{k}={v}" for k, v in flags.items() if v is not None]
    cfg = build_config(DFKDConfig(), [args.config or config_path(args.method, args.dataset)],
                       overrides + args.overrides)
    if cfg.method != args.method or cfg.dataset != args.dataset:
        raise ConfigError("set the method and dataset with --method/--dataset, not in the config")
    return cfg


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = load_config(args)
    device = resolve_device(cfg.train.device)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    out = Path(args.out or f"runs/{cfg.method}_{cfg.teacher}_{cfg.student.model}_{cfg.dataset}")
    latest = out / "latest.pt"
    if latest.exists() and not args.resume:
        raise DfkdError(f"{out} already holds a run (latest.pt): pass --resume to continue it "
                        "or choose another --out")
    root = cfg.data_root or None
    spec = get_spec(cfg.dataset, root)
    test_set = load_tensors(cfg.dataset, root, train=False)
    teacher, meta = load_teacher(cfg.teacher, cfg.dataset, cfg.teacher_ckpt or None,
                                 data_root=root, device=str(device), train_if_missing=True)

    seed_everything(cfg.train.seed)
    student = build_model(cfg.student.model, in_channels=spec.in_channels,
                          num_classes=spec.num_classes).to(device)
    # channels-last: the generator's convolutions run ~1.8x faster on CPU in this layout
    generator = build_generator(cfg.generator.model, cfg.generator.nz, cfg.generator.ngf,
                                spec.image_size, spec.in_channels, spec.num_classes,
                                cfg.generator.members).to(
                                    device, memory_format=torch.channels_last)
    iters = cfg.train.iters
    student_player = Player.from_config("student", student, cfg.student, iters)
    generator_player = Player.from_config("generator", generator, cfg.generator, iters)
    replay = (ReplayBuffer(cfg.replay.capacity, cfg.replay.policy)
              if cfg.replay.capacity else None)
    method = METHODS.get(cfg.method)(teacher, student, generator, nz=cfg.generator.nz,
                                     batch_size=cfg.train.batch_size, spec=spec, loss=cfg.loss,
                                     replay=replay, replay_ratio=cfg.replay.ratio,
                                     augment=build_augment(cfg.augment, spec.image_size),
                                     bn_weight=cfg.generator.bn_weight,
                                     diversity=cfg.generator.diversity,
                                     generator_ema=(generator_player.ema.module
                                                    if generator_player.ema else None))
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    # with student.ema, the averaged weights are the student that is measured and kept
    evaluated = student_player.ema.module if student_player.ema else student
    logger = RunLogger(out / "tb")
    logger.text("config", "```\n" + str(to_dict(cfg)) + "\n```", 0)
    loop = AdversarialLoop(
        method, student_player, generator_player, iters, out,
        evaluate=lambda: {"acc": accuracy(evaluated, test_set, device=device),
                          "early_bank_acc": method.early_bank_agreement(loop.iteration,
                                                                        evaluated)},
        eval_every=cfg.train.eval_every, log_every=cfg.train.log_every,
        image_every=cfg.train.image_every, logger=logger,
        identity={"method": cfg.method, "dataset": cfg.dataset, "teacher": cfg.teacher,
                  "student": cfg.student.model})
    if args.resume:
        if latest.exists():
            loop.resume(latest)
            print(f"resuming {latest} at iteration {loop.iteration} of {iters}")
        else:
            print(f"--resume: no {latest} yet, starting a new run")
    final = loop.run()
    logger.close()
    metrics = {"method": cfg.method, "dataset": cfg.dataset, "teacher": cfg.teacher,
               "student": cfg.student.model, "teacher_acc": meta["test_acc"],
               "student_acc": final.get("acc"), "best_student_acc": loop.best,
               "iters": loop.iteration, "seconds": round(loop.seconds, 2),
               "iters_per_second": round(loop.iteration / max(loop.seconds, 1e-9), 3),
               "history": loop.history,
               "config": to_dict(cfg)}
    write_json(out / "metrics.json", metrics)
    print(f"teacher_acc={meta['test_acc']:.2f} student_acc={final.get('acc', float('nan')):.2f} "
          f"ratio={final.get('acc', 0) / meta['test_acc']:.3f} iters={loop.iteration} "
          f"seconds={loop.seconds:.1f}")
    print(f"run folder: {out}  (TensorBoard: tensorboard --logdir {out / 'tb'})")
    return 0

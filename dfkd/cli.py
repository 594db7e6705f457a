"""Helpers shared by the command-line tools in ``tools/``."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import yaml
from torch.utils.data import TensorDataset

from dfkd.config import CONFIG_DIR, build_config, to_dict
from dfkd.data import DatasetSpec, get_spec, load_tensors
from dfkd.engine import distributed
from dfkd.engine.logger import RunLogger
from dfkd.engine.loop import PREVIOUS
from dfkd.engine.state import seed_everything
from dfkd.errors import ConfigError, CorruptCheckpointError, DfkdError
from dfkd.models import build_model
from dfkd.modes import eval_mode
from dfkd.teacher import load_teacher


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Flags every training tool takes."""
    parser.add_argument("--data-root", default=None,
                        help="folder holding the datasets (default: $DFKD_DATA or ./data)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser.add_argument("--amp", action="store_true", default=None,
                        help="mixed precision (float16 with loss scaling on CUDA, bfloat16 on CPU)")


def resolve_device(name: str) -> torch.device:
    """A torch device, with a clear error when CUDA is asked for but absent."""
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DfkdError(f"--device {name} was asked for, but this machine has no CUDA GPU: "
                        "use --device cpu")
    return device


def write_json(path: str | Path, data: dict) -> None:
    """Write ``data`` as indented JSON via a temp file and rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def run_main(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> None:
    """Run a tool's ``main``; user errors become one ``error:`` line and exit status 2."""
    args = sys.argv[1:] if argv is None else argv
    try:
        sys.exit(main(args))
    except DfkdError as exc:
        if "--debug" in args:
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: the last checkpoint written is kept", file=sys.stderr)
        sys.exit(130)


def add_run_args(parser: argparse.ArgumentParser) -> None:
    """Flags of the distillation tools (``train_dfkd.py``, ``train_kd.py``)."""
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--teacher", default=None, help="teacher architecture (e.g. lenet5)")
    parser.add_argument("--student", default=None, help="student architecture")
    parser.add_argument("--teacher-ckpt", default=None, help="teacher weights (.pt/.pth)")
    parser.add_argument("--config", default=None, help="YAML config (default: configs/...)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--loss", nargs="+", default=None, metavar="TERM=WEIGHT",
                        help="the student's loss terms, replacing the config's student_loss "
                             "(e.g. --loss ce=1 kd=1 at=1000)")
    parser.add_argument("--out", default=None, help="run folder (default runs/<...>)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/latest.pt")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config key, e.g. train.seed=1")
    add_common_args(parser)


def add_gan_args(parser: argparse.ArgumentParser) -> None:
    """Flags of the image-to-image tools (``train_gan.py``, ``compress_gan.py``)."""
    from dfkd.data.gan_tasks import GAN_TASKS, TASK_ALIASES, UNCONDITIONAL_TASKS

    parser.add_argument("--task", default="edges2fashion",
                        help=f"{', '.join(GAN_TASKS + UNCONDITIONAL_TASKS)} (or "
                             f"{', '.join(TASK_ALIASES)}): a paired task is pix2pix's, an "
                             "unpaired one CycleGAN's, an unconditional one a DCGAN's")
    parser.add_argument("--config", default=None, help="YAML config (default: configs/...)")
    parser.add_argument("--iters", type=int, default=None)
    parser.add_argument("--out", default=None, help="run folder (default runs/<...>)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/latest.pt")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config key, e.g. train.seed=1")
    add_common_args(parser)


def build_gan_config(default, folder: str, args: argparse.Namespace, flags: dict | None = None):
    """An image-to-image tool's config: ``--config`` (or ``configs/<folder>/<task>.yaml``),
    then its flags and ``--set`` overrides."""
    from dfkd.data.gan_tasks import resolve_task

    task = resolve_task(args.task)
    common = {"task": task, "train.iters": args.iters, "data_root": args.data_root,
              "train.device": args.device, "train.seed": args.seed, "train.amp": args.amp}
    cfg = config_from_flags(default, folder, task, args, {**common, **(flags or {})})
    if cfg.task != task:
        raise ConfigError(f"the config is for task {cfg.task!r} but --task {task} was asked for")
    return cfg


def parse_loss(items: list[str]) -> dict[str, float]:
    """``["ce=1", "at=1e3"]`` -> ``{"ce": 1.0, "at": 1000.0}`` (a ``--loss`` flag)."""
    weights = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--loss {item!r} is not TERM=WEIGHT (e.g. kd=1.0)") from None
    return weights


def build_run_config(default, folder: str, args: argparse.Namespace, flags: dict):
    """A distillation tool's config: ``--config`` (or ``configs/<folder>/<dataset>.yaml``),
    then its flags and ``--set`` overrides; ``--loss`` replaces the student_loss block."""
    common = {"dataset": args.dataset, "teacher": args.teacher,
              "teacher_ckpt": args.teacher_ckpt, "data_root": args.data_root,
              "student.model": args.student, "train.batch_size": args.batch_size,
              "train.device": args.device, "train.seed": args.seed, "train.amp": args.amp}
    cfg = config_from_flags(default, folder, args.dataset, args, {**common, **flags})
    if args.loss:
        cfg = dataclasses.replace(cfg, student_loss=parse_loss(args.loss))
    return cfg


def config_from_flags(default, folder: str, name: str, args: argparse.Namespace, flags: dict):
    """``--config`` (or ``configs/<folder>/<name>.yaml``) applied to ``default``, then the
    tool's flags (``{"train.iters": 500}``; None: not given), then ``--set`` overrides."""
    overrides = [f"{k}={v}" for k, v in flags.items() if v is not None]
    return build_config(default, [args.config or config_path(folder, name)],
                        overrides + args.overrides)


def config_path(folder: str, dataset: str) -> Path:
    """``configs/<folder>/<dataset>.yaml``, or an error listing what there is."""
    path = CONFIG_DIR / folder / f"{dataset}.yaml"
    if not path.exists():
        have = sorted(str(p.relative_to(CONFIG_DIR)) for p in CONFIG_DIR.glob(f"{folder}/*.yaml"))
        raise ConfigError(f"no config {path} for {folder} on --dataset {dataset}; "
                          f"available: {', '.join(have) or 'none'}. Pass --config FILE")
    return path


def run_checkpoints(out: Path) -> list[Path]:
    """The run's checkpoints in ``out``, newest first: ``latest.pt``, then ``previous.pt``
    (the one it replaced); empty for a folder that holds no run."""
    return [path for path in (out / "latest.pt", out / PREVIOUS) if path.exists()]


def check_out(out: Path, resume: bool) -> None:
    """A run folder that holds a run is only continued with ``--resume``; an output folder
    that cannot be written is an error now, not after the first evaluation."""
    held = run_checkpoints(out)
    if held and not resume:
        raise DfkdError(f"{out} already holds a run ({held[0].name}): pass --resume to continue "
                        "it or choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write_test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise DfkdError(f"cannot write to the run folder {out} ({exc.strerror or exc}): "
                        "choose another --out") from None


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


def setup_run(cfg, out: Path, resume: bool) -> RunSetup:
    """Device and threads (and, under ``torchrun``, the process group), the run folder
    check, the test set, the teacher (trained when it is the missing embedded default),
    then the seed and a fresh student."""
    device = prepare_device(cfg.train)
    if distributed.init_from_env(device) > 1 and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    check_out(out, resume)
    root = cfg.data_root or None
    spec = get_spec(cfg.dataset, root)
    test_set = load_tensors(cfg.dataset, root, train=False)
    teacher, meta = load_teacher(cfg.teacher, cfg.dataset, cfg.teacher_ckpt or None,
                                 data_root=root, device=str(device),
                                 train_if_missing=distributed.world_size() == 1)
    seed_everything(cfg.train.seed)
    student = build_model(cfg.student.model, in_channels=spec.in_channels,
                          num_classes=spec.num_classes).to(device)
    for role, name, model in (("teacher", cfg.teacher, teacher),
                              ("student", cfg.student.model, student)):
        check_input_size(model, f"the {role} {name}", spec, device)
    return RunSetup(device, spec, test_set, teacher, meta, student)


def check_input_size(model: nn.Module, what: str, spec: DatasetSpec, device) -> None:
    """Run one blank image of the dataset's size through ``model`` (eval mode, no graph)
    so that a model too deep for the images fails here with the fix, not mid-run."""
    shape = (1, spec.in_channels, spec.image_size, spec.image_size)
    try:
        with eval_mode(model), torch.no_grad():
            model(torch.zeros(shape, device=device))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0][:200]
        raise ConfigError(f"{what} does not take {spec.in_channels}×{spec.image_size}×"
                          f"{spec.image_size} images ({first}): resize the images (imagefolder: "
                          "image_size in spec.yaml) or pick a model made for this size") from None


def critic_player(knowledge, cfg, total_iters: int, device: torch.device):
    """The loop's critic: the discriminators of the ``student_loss`` block's adversarial
    terms (``adversarial``, ``anc``) under the config's ``critic:`` settings, or None."""
    from dfkd.engine import Player

    critics = knowledge.critics() if knowledge is not None else nn.ModuleDict()
    if not len(critics):
        return None
    return Player.from_config("critic", critics.to(device), cfg, total_iters)


def start_run(out: Path, cfg) -> RunLogger | None:
    """Create the run folder, write its ``config.yaml`` (a run being resumed keeps the one
    it started with: a resume that is then refused must not change it; metrics.json holds
    each session's config), open its TensorBoard log."""
    if not distributed.is_main():
        return None  # process 0 logs
    out.mkdir(parents=True, exist_ok=True)
    if not run_checkpoints(out):
        (out / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    logger = RunLogger(out / "tb")
    logger.text("config", "```\n" + str(to_dict(cfg)) + "\n```", 0)
    return logger


def resume_if_asked(loop, out: Path, resume: bool) -> None:
    """With ``--resume``, continue ``out/latest.pt`` where there is one; when it cannot be
    read (truncated, corrupt), say so and continue ``out/previous.pt``, the checkpoint it
    replaced."""
    if not resume:
        return
    candidates = run_checkpoints(out)
    if not candidates:
        print(f"--resume: no {out / 'latest.pt'} yet, starting a new run")
        return
    for i, path in enumerate(candidates):
        try:
            loop.resume(path)
        except CorruptCheckpointError as exc:
            if i + 1 == len(candidates):
                raise
            print(f"warning: {exc}; resuming from {candidates[i + 1]} instead", file=sys.stderr)
            continue
        print(f"resuming {path} at iteration {loop.iteration} of {loop.total_iters}")
        return


def finish_run(loop, resume: bool, out: Path, logger: RunLogger, cfg, teacher_meta: dict,
               extra: dict, steps_per_epoch: int = 0) -> int:
    """Resume if asked, run the loop, write ``metrics.json`` and print the summary."""
    resume_if_asked(loop, out, resume)
    final = loop.run()
    if not distributed.is_main():  # process 0 reports
        distributed.shutdown()
        return 0
    logger.close()
    teacher_acc, acc = teacher_meta["test_acc"], final.get("acc")
    metrics = {**extra, "dataset": cfg.dataset, "teacher": cfg.teacher,
               "student": cfg.student.model, "teacher_acc": teacher_acc, "student_acc": acc,
               "best_student_acc": loop.best, "iters": loop.iteration,
               "seconds": round(loop.seconds, 2),
               "iters_per_second": round(loop.iteration / max(loop.seconds, 1e-9), 3),
               "history": loop.history, "config": to_dict(cfg)}
    summary = (f"teacher_acc={teacher_acc:.2f} student_acc={acc if acc is not None else float('nan'):.2f} "
               f"ratio={(acc or 0) / teacher_acc:.3f} iters={loop.iteration} "
               f"seconds={loop.seconds:.1f}")
    if steps_per_epoch:
        metrics["epochs"] = loop.iteration / steps_per_epoch
        metrics["seconds_per_epoch"] = round(loop.seconds / max(metrics["epochs"], 1e-9), 2)
        summary += f" seconds_per_epoch={metrics['seconds_per_epoch']:.1f}"
    if distributed.world_size() > 1:
        metrics["processes"] = distributed.world_size()
        summary += f" processes={distributed.world_size()}"
    write_json(out / "metrics.json", metrics)
    print(summary)
    print(f"run folder: {out}  (TensorBoard: tensorboard --logdir {out / 'tb'})")
    distributed.shutdown()
    return 0

"""The command line: argument groups of the tools, their config from flags, and ``run_main``
(a user error is one ``error:`` line and exit status 2)."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Callable

from dfkd.core.config import CONFIG_DIR, build_config, read_options, read_yaml, validate
from dfkd.core.errors import ConfigError, DfkdError
from dfkd.data.gan_tasks import GAN_TASKS, TASK_ALIASES, UNCONDITIONAL_TASKS, resolve_task
from dfkd.data.gan_transforms import PREPROCESS_MODES


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Flags every training tool takes."""
    parser.add_argument("--data-root", default=None,
                        help="folder holding the datasets (default: $DFKD_DATA or ./data)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser.add_argument("--amp", action="store_true", default=None,
                        help="mixed precision (float16 with loss scaling on CUDA, bfloat16 on CPU)")


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


class _TaskGiven(argparse.Action):
    """``--task X``, remembering that it was given (a dataset folder excludes it)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        namespace.task, namespace.task_given = values, True


#: the flags of a dataset folder in the original layout -> their data: config keys
FOLDER_FLAGS = {"dataroot": "data.dataroot", "dataset_mode": "data.dataset_mode",
                "direction": "data.direction", "load_size": "data.load_size",
                "crop_size": "data.crop_size", "preprocess": "data.preprocess",
                "no_flip": "data.no_flip",
                "serial_batches": "data.serial_batches", "input_nc": "data.input_nc",
                "output_nc": "data.output_nc"}


def add_folder_args(parser: argparse.ArgumentParser) -> None:
    """A dataset folder in the original pix2pix/CycleGAN layout, with its option names
    (the config's ``data:`` section); instead of ``--task``."""
    group = parser.add_argument_group(
        "a dataset folder in the original pix2pix/CycleGAN layout (instead of --task)")
    group.add_argument("--dataroot", default=None,
                       help="aligned: DIR/train/, DIR/test/ (or val/) of A|B images side by "
                            "side; unaligned: DIR/trainA/, trainB/, testA/, testB/ (not "
                            "--data-root, the embedded datasets' folder)")
    group.add_argument("--dataset-mode", default=None, choices=("aligned", "unaligned"))
    group.add_argument("--direction", default=None, choices=("AtoB", "BtoA"))
    group.add_argument("--load-size", type=int, default=None, help="resize to this (286)")
    group.add_argument("--crop-size", type=int, default=None, help="then crop to this (256)")
    group.add_argument("--preprocess", default=None, choices=PREPROCESS_MODES,
                       help="the original's modes (default resize_and_crop); scale_width and "
                            "none keep each image's aspect: batch size 1 where sizes differ")
    group.add_argument("--no-flip", action="store_true", default=None,
                       help="no random horizontal flip")
    group.add_argument("--serial-batches", action="store_true", default=None,
                       help="batches in file order (unaligned: B's index is A's mod |B|)")
    group.add_argument("--input-nc", type=int, default=None,
                       help="1 (grayscale) or 3; default the teacher's (train_gan.py: 3)")
    group.add_argument("--output-nc", type=int, default=None, help="as --input-nc")


def add_gan_args(parser: argparse.ArgumentParser, task: str = "edges2fashion") -> None:
    """Flags of the GAN tools (``train_gan.py``, ``compress_gan.py``, ``distill_gan.py``)."""
    parser.set_defaults(task_given=False)
    parser.add_argument("--task", default=task, action=_TaskGiven,
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
    add_folder_args(parser)


def parse_gan_student_args(argv: list[str] | None, description: str,
                           task: str) -> argparse.Namespace:
    """The command line of a tool that distils a GAN teacher (``compress_gan.py``,
    ``distill_gan.py``), whose default task is ``task``."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_gan_student_args(parser, task)
    return parser.parse_args(argv)


def with_method_options(cfg, methods):
    """``cfg`` with its ``options:`` mapping read into the ``Options`` dataclass of the method
    ``cfg.method`` names in the family's registry ``methods`` (one error line naming the
    key and the method for an unknown or mistyped key)."""
    options = read_options(methods.get(cfg.method).Options, cfg.options, cfg.method)
    return dataclasses.replace(cfg, options=options)


def add_gan_student_args(parser: argparse.ArgumentParser, task: str) -> None:
    """Flags of the tools that distil a GAN teacher (``compress_gan.py``, ``distill_gan.py``)."""
    parser.add_argument("--teacher-ckpt", required=True,
                        help="latest_net_G.pth (pix2pix, DCGAN) or latest_net_G_A.pth (CycleGAN)")
    parser.add_argument("--netG", default=None,
                        help="expected teacher architecture (checked against the file)")
    parser.add_argument("--student-ngf", type=int, default=None, help="student width")
    add_gan_args(parser, task)


def task_asked(argv: list[str], default: str) -> str:
    """The task a GAN tool's command line asks for (``--task X`` or ``--task=X``), resolved
    to its canonical name, before the tool's own parser runs."""
    for i, arg in enumerate(argv):
        if arg == "--task" and i + 1 < len(argv):
            return resolve_task(argv[i + 1])
        if arg.startswith("--task="):
            return resolve_task(arg.split("=", 1)[1])
    return resolve_task(default)


def build_gan_config(default, folder: str, args: argparse.Namespace, flags: dict | None = None):
    """An image-to-image tool's config: ``--config`` (or ``configs/<folder>/<task>.yaml``;
    for a dataset folder ``configs/<folder>/<dataset-mode>.yaml``), then its flags and
    ``--set`` overrides. A dataset folder (``--dataroot`` or the config's ``data.dataroot``)
    leaves ``task`` empty; ``--task`` with it is an error."""
    data = {key: getattr(args, name, None) for name, key in FOLDER_FLAGS.items()}
    given = [f"--{name.replace('_', '-')}" for name, key in FOLDER_FLAGS.items()
             if data[key] is not None]
    common = {"train.iters": args.iters, "data_root": args.data_root, "train.device": args.device,
              "train.seed": args.seed, "train.amp": args.amp, **(flags or {})}
    if not any(f.name == "data" for f in dataclasses.fields(default)):
        if given:
            raise ConfigError(f"{given[0]}: this tool reads no dataset folder (a DCGAN trains "
                              "on the embedded garments)")
        return _task_config(default, folder, args, common)
    task_given = getattr(args, "task_given", False)
    both = "pass either --task (an embedded demo task) or a dataset folder of your own"
    if given and task_given:
        raise ConfigError(f"{both} ({given[0]}), not both")
    if given and not args.dataset_mode and not args.config:
        raise ConfigError(f"{given[0]} needs --dataset-mode aligned (DIR/train/, DIR/test/ of "
                          "A|B images) or unaligned (DIR/trainA/, trainB/, testA/, testB/)")
    name = args.dataset_mode if given else asked_task(args)
    base = {} if given else {"task": name}
    cfg = config_from_flags(default, folder, name, args, {**base, **common, **data})
    if cfg.data.dataroot:
        if task_given:
            raise ConfigError(f"{both} (data.dataroot {cfg.data.dataroot}), not both")
        return dataclasses.replace(cfg, task="")
    if given or cfg.data.dataset_mode:
        raise ConfigError("a dataset folder needs --dataroot DIR (or data.dataroot in the "
                          "config) beside --dataset-mode")
    return _check_task(cfg, name)


def _task_config(default, folder: str, args: argparse.Namespace, flags: dict):
    """The config of an embedded task (``configs/<folder>/<task>.yaml``)."""
    task = asked_task(args)
    return _check_task(config_from_flags(default, folder, task, args, {"task": task, **flags}),
                       task)


def asked_task(args: argparse.Namespace) -> str:
    """``--task`` when given; else the ``task:`` of ``--config`` when it names one (so that
    ``--config configs/compress/sneaker2boot.yaml`` alone runs sneaker2boot); else the
    tool's default task."""
    if not getattr(args, "task_given", False) and getattr(args, "config", None):
        task = read_yaml(args.config).get("task")
        if task:
            return resolve_task(task)
    return resolve_task(args.task)


def _check_task(cfg, task: str):
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
        cfg = validate(dataclasses.replace(cfg, student_loss=parse_loss(args.loss)))
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



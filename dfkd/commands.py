"""The console commands (``[project.scripts]`` in pyproject.toml): ``dfkd-<tool>`` does what
``python tools/<tool>.py`` does, running the tool's ``main`` under :func:`dfkd.cli.run_main`
(a user error is one ``error:`` line and exit status 2). Each tool (and dfkd.cli) is imported
when its command runs, so importing this module loads no torch.

Two tools' ``main`` live here, the only layer above both the command line helpers and the
families: :func:`train_teacher_main` and :func:`compress_gan_main` (it hands a DCGAN task
to joint distillation). No module of the package imports this one.
"""
from __future__ import annotations

import argparse
import sys

TRAIN_TEACHER_HELP = """Train a teacher classifier on real data and save it with its metadata.

    python tools/train_teacher.py --model lenet5 --dataset fashion_mnist --epochs 10

The file (default checkpoints/<model>_<dataset>.pt) is what tools/train_dfkd.py looks for.
Training runs on the shared loop: one checkpoint per epoch in --run-dir, and --resume
continues a stopped run exactly.
"""


def train_teacher_main(argv: list[str] | None = None) -> int:
    """``tools/train_teacher.py``: a teacher classifier trained on real data."""
    from dfkd.cli import add_common_args
    from dfkd.core.config import check_value
    from dfkd.data import get_spec
    from dfkd.data.datasets import parse_classes
    from dfkd.engine.run import resolve_device
    from dfkd.engine.teacher import train_teacher
    from dfkd.nets import build_model

    parser = argparse.ArgumentParser(description=TRAIN_TEACHER_HELP)
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default=None, help="default checkpoints/<model>_<dataset>.pt")
    parser.add_argument("--run-dir", default=None, help="checkpoints of the run "
                        "(default runs/teacher_<model>_<dataset>, or OUT_run)")
    parser.add_argument("--resume", action="store_true", help="continue RUN_DIR/latest.pt")
    parser.add_argument("--classes", default=None, help="train on these classes only, e.g. 0-4 "
                        "(a teacher of a class subset, for knowledge amalgamation)")
    add_common_args(parser)
    args = parser.parse_args(argv)
    check_value("--epochs", args.epochs)  # the rule of every config's `epochs` key: >= 1
    spec = get_spec(args.dataset, args.data_root)
    classes = parse_classes(args.classes, spec.num_classes) if args.classes else None
    build_model(args.model, in_channels=spec.in_channels, num_classes=spec.num_classes)
    device = resolve_device(args.device or "cpu")
    train_teacher(args.model, args.dataset, args.out, epochs=args.epochs, data_root=args.data_root,
                  device=str(device), seed=args.seed or 0, run_dir=args.run_dir,
                  resume=args.resume, amp=bool(args.amp), classes=classes)
    return 0


def compress_gan_main(argv: list[str] | None = None) -> int:
    """``tools/compress_gan.py``: GAN Compression of a pix2pix/CycleGAN generator, or for an
    unconditional (DCGAN) task, joint G+D distillation (``tools/distill_gan.py``)."""
    from dfkd.cli import task_asked
    from dfkd.data.gan_tasks import UNCONDITIONAL_TASKS
    from dfkd.generator_distillation.train import main as compress
    from dfkd.joint_distillation.train import main as distill

    argv = sys.argv[1:] if argv is None else argv
    unconditional = task_asked(argv, "edges2fashion") in UNCONDITIONAL_TASKS
    return (distill if unconditional else compress)(argv)


# -- the console commands, one per tool -------------------------------------------------------
def train_dfkd() -> None:
    from dfkd.cli import run_main
    from dfkd.discriminator_distillation.train import main

    run_main(main)


def train_teacher() -> None:
    from dfkd.cli import run_main

    run_main(train_teacher_main)


def train_kd() -> None:
    from dfkd.adversarial_kd.train import main
    from dfkd.cli import run_main

    run_main(main)


def train_afd() -> None:
    from dfkd.adversarial_kd.train_afd import main
    from dfkd.cli import run_main

    run_main(main)


def train_gan() -> None:
    from dfkd.cli import run_main
    from dfkd.gan_teachers.train import main

    run_main(main)


def compress_gan() -> None:
    from dfkd.cli import run_main

    run_main(compress_gan_main)


def distill_gan() -> None:
    from dfkd.cli import run_main
    from dfkd.joint_distillation.train import main

    run_main(main)


def sample() -> None:
    from dfkd.cli import run_main
    from dfkd.discriminator_distillation.sample import main

    run_main(main)


def get_data() -> None:
    from dfkd.cli import run_main
    from dfkd.data.get_data import main

    run_main(main)


def export() -> None:
    from dfkd.cli import run_main
    from dfkd.nets.export_cli import main

    run_main(main)

"""What the joint family's two runs (``train`` and ``ppcd_run``) share: the start (device,
run folder, teacher file), the teacher discriminator and the loop."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

import torch

from dfkd.core.errors import CheckpointError, ConfigError
from dfkd.engine import AdversarialLoop, Player
from dfkd.engine.run import prepare_device
from dfkd.engine.run_folder import check_out, resume_if_asked
from dfkd.joint_distillation.config import JointConfig
from dfkd.joint_distillation.registry import METHODS
from generators.gan_checkpoint import discriminator_beside


def teacher_discriminator(cfg: JointConfig, teacher_path: Path, device, load: Callable,
                          off_hint: str) -> tuple[torch.nn.Module | None, str]:
    """D_T read by ``load`` (``discriminator_ckpt``; ``auto``: ``latest_net_D.pth`` beside
    the teacher generator), or None when the method does not use it; and where it came
    from. ``off_hint`` names the setting that does without it."""
    if not METHODS.get(cfg.method).uses_teacher_discriminator(cfg.options):
        return None, "not used"
    path = cfg.discriminator_ckpt
    if path == "auto":
        path = discriminator_beside(teacher_path)
        if path is None:
            raise CheckpointError(f"no teacher discriminator beside {teacher_path} (looked for "
                                  f"latest_net_D.pth): set discriminator_ckpt, or {off_hint}")
    model, _ = load(path, device)
    return model, f"from {path}"


def start_joint_run(cfg: JointConfig, args: argparse.Namespace, teacher_kind: str,
                    train_hint: str) -> tuple[torch.device, Path, Path]:
    """The device, the checked run folder and the teacher generator's file of a run whose
    teacher is ``teacher_kind`` (one error line each for --netG, a taken folder, a missing
    file; ``train_hint`` is the command that trains one)."""
    if args.netG:
        raise ConfigError(f"--netG names a pix2pix/CycleGAN architecture; {teacher_kind} "
                          "teacher's is read off its file")
    device = prepare_device(cfg.train)
    out = Path(args.out or f"runs/{cfg.method}_{cfg.task}")
    check_out(out, args.resume)
    teacher_path = Path(cfg.teacher_ckpt)
    if not teacher_path.exists():
        raise CheckpointError(f"no teacher generator at {teacher_path}; train one with "
                              f"{train_hint}")
    return device, out, teacher_path


def run_loop(cfg: JointConfig, method, s_player: Player, d_player: Player | None, out: Path,
             evaluate, best_key: str, logger, teacher_name: str, resume: bool
             ) -> tuple[AdversarialLoop, dict]:
    """The shared loop of a joint-distillation run (the student and, where there is one,
    its discriminator), resumed when asked, run to ``cfg.train.iters``; best.pt by the
    lowest ``best_key``. Returns the loop and its final figures; the logger is closed."""
    loop = AdversarialLoop(
        method, s_player, d_player, cfg.train.iters, out, evaluate=evaluate,
        best_key=best_key, lower_is_better=True, eval_every=cfg.train.eval_every,
        log_every=cfg.train.log_every, image_every=cfg.train.image_every, logger=logger,
        identity={"method": cfg.method, "task": cfg.task, "teacher": teacher_name,
                  "student_ngf": cfg.student_ngf}, amp=cfg.train.amp)
    resume_if_asked(loop, out, resume)
    final = loop.run()
    logger.close()
    return loop, final

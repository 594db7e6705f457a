"""What the joint family's two runs (``train`` and ``ppcd_run``) share: the start (device,
run folder, teacher file) and the loop."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from dfkd.core.errors import CheckpointError, ConfigError
from dfkd.engine import AdversarialLoop, Player
from dfkd.engine.run import prepare_device
from dfkd.engine.run_folder import check_out, resume_if_asked
from dfkd.joint_distillation.config import JointConfig


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

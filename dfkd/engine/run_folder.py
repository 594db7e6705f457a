"""Run folders: the check that a folder may be written, ``config.yaml``, the TensorBoard
log, ``--resume`` (with the fall-back to ``previous.pt``) and ``metrics.json``."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from dfkd.core.config import to_dict
from dfkd.core.errors import CorruptCheckpointError, DfkdError
from dfkd.core.io import write_json
from dfkd.engine import distributed
from dfkd.engine.logger import RunLogger
from dfkd.engine.loop import PREVIOUS
from dfkd.nets.student_file import STUDENT_FILE, save_student


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
               extra: dict, steps_per_epoch: int = 0, student_meta: dict | None = None) -> int:
    """Resume if asked, run the loop, write ``metrics.json`` and, given ``student_meta``,
    the student alone in ``student.pt`` (the evaluated weights: the EMA copy where there is
    one; :func:`dfkd.nets.student_file.load_student` reads it), and print the summary."""
    resume_if_asked(loop, out, resume)
    final = loop.run()
    if not distributed.is_main():  # process 0 reports
        distributed.shutdown()
        return 0
    logger.close()
    teacher_acc, acc = teacher_meta.get("test_acc"), final.get("acc")
    metrics = {**extra, "dataset": cfg.dataset, "teacher": cfg.teacher,
               "student": cfg.student.model, "teacher_acc": teacher_acc, "student_acc": acc,
               "best_student_acc": loop.best, "iters": loop.iteration,
               "seconds": round(loop.seconds, 2), "cpu_seconds": round(loop.cpu_seconds, 2),
               "iters_per_second": round(loop.iteration / max(loop.seconds, 1e-9), 3),
               "history": loop.history, "config": to_dict(cfg)}
    if teacher_acc is None:  # no labelled test images: what can be measured without them
        summary = " ".join(f"{k}={v:.3f}" for k, v in final.items()) + " (no test set)"
    else:
        summary = (f"teacher_acc={teacher_acc:.2f} student_acc="
                   f"{acc if acc is not None else float('nan'):.2f} "
                   f"ratio={(acc or 0) / teacher_acc:.3f}")
    summary += f" iters={loop.iteration} seconds={loop.seconds:.1f}"
    if steps_per_epoch:
        metrics["epochs"] = loop.iteration / steps_per_epoch
        metrics["seconds_per_epoch"] = round(loop.seconds / max(metrics["epochs"], 1e-9), 2)
        summary += f" seconds_per_epoch={metrics['seconds_per_epoch']:.1f}"
    if distributed.world_size() > 1:
        metrics["processes"] = distributed.world_size()
        summary += f" processes={distributed.world_size()}"
    if student_meta is not None:
        player = loop.student
        kept = player.ema.module if player.ema else player.model
        metrics["student_file"] = str(save_student(kept, out / STUDENT_FILE, {
            **student_meta, "test_acc": acc, "teacher_acc": teacher_acc,
            "iters": loop.iteration}))
    write_json(out / "metrics.json", metrics)
    print(summary)
    print(f"run folder: {out}  (TensorBoard: tensorboard --logdir {out / 'tb'})")
    if student_meta is not None:
        print(f"student: {out / STUDENT_FILE}  (dfkd.load_student, or tools/export.py --run {out})")
    distributed.shutdown()
    return 0

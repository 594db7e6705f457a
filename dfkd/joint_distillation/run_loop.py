"""The shared loop of a joint-distillation run (``train.joint_run`` and ``ppcd_run``)."""
from __future__ import annotations

from pathlib import Path

from dfkd.engine import AdversarialLoop, Player
from dfkd.engine.run_folder import resume_if_asked
from dfkd.joint_distillation.config import JointConfig


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

"""A pair's teacher of each seed and one (method, seed) run in a child process, with its row."""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks import ROOT
from benchmarks.children import run_counting_cpu

if TYPE_CHECKING:
    from benchmarks.pairs.pair import Pair

DATASET = "fashion_mnist"
SEEDS = (0, 1, 2)
TOOLS = ROOT / "tools"


def teacher_path(pair: Pair, seed: int) -> Path:
    """Teacher ``seed``'s checkpoint (seed 0 is the file train_dfkd.py finds by default)."""
    suffix = "" if seed == 0 else f"_seed{seed}"
    return ROOT / "checkpoints" / f"{pair.teacher}_{DATASET}{suffix}.pt"


def ensure_teacher(pair: Pair, seed: int, data_root: str | None, runs: Path) -> Path:
    """Teacher ``seed``, trained in a child process when its file is missing."""
    path = teacher_path(pair, seed)
    if not path.exists():
        cmd = [sys.executable, str(TOOLS / "train_teacher.py"), "--model", pair.teacher,
               "--dataset", DATASET, "--epochs", str(pair.teacher_epochs), "--seed", str(seed),
               "--out", str(path), "--run-dir", str(runs / f"teacher_seed{seed}")]
        if data_root:
            cmd += ["--data-root", data_root]
        print(f"[teacher {seed}] {' '.join(cmd[1:])}", flush=True)
        subprocess.run(cmd, check=True)
    return path


def train_dfkd_command(method: str, seed: int, folder: Path, data_root: str | None,
                       teacher_flags: list[str], extra: tuple[str, ...] = (),
                       config: Path | None = None) -> list[str]:
    """One run of ``tools/train_dfkd.py`` on one thread (``--resume`` once the folder holds a
    checkpoint); ``teacher_flags`` say which teacher(s)."""
    cmd = [sys.executable, str(TOOLS / "train_dfkd.py"), "--method", method, "--dataset",
           DATASET, "--seed", str(seed), *teacher_flags, "--set", "train.threads=1",
           "--out", str(folder)]
    if config:
        cmd += ["--config", str(config)]
    cmd += [x for o in extra for x in ("--set", o)]
    if data_root:
        cmd += ["--data-root", data_root]
    if (folder / "latest.pt").exists():
        cmd.append("--resume")
    return cmd


def run_command(pair: Pair, method: str, seed: int, folder: Path, data_root: str | None,
                extra: tuple[str, ...] = ()) -> list[str]:
    """Row ``method`` (a method, or a variant of ``pair.variants``) with teacher ``seed``."""
    method, config = pair.variants.get(method, (method, None))
    return train_dfkd_command(
        method, seed, folder, data_root,
        ["--teacher-ckpt", str(teacher_path(pair, seed)), "--set", f"teacher={pair.teacher}"],
        extra, ROOT / "configs" / method / config if config else None)


def run_one(pair: Pair, method: str, seed: int, runs: Path, data_root: str | None,
            extra: tuple[str, ...] = ()) -> dict:
    """(method, seed) in a child process; its row. CPU seconds add up over resumed parts
    (kept in ``<folder>/child.json``)."""
    folder = runs / f"{method}-seed{seed}"
    spent = run_counting_cpu(f"{method}/{seed}",
                             run_command(pair, method, seed, folder, data_root, extra),
                             folder, runs / f"{method}-seed{seed}.log")
    row = {**summarize(json.loads((folder / "metrics.json").read_text()), seed, spent,
                       pair.last), "method": method}  # a variant's row name, not its method's
    return {**row, "overrides": list(extra)} if extra else row


def summarize(metrics: dict, seed: int, spent: dict, last: int) -> dict:
    """A row from a run's metrics.json and its child's CPU seconds; ``last_mean`` averages
    its ``last`` evaluations."""
    history = [{"iteration": h["iteration"], "seconds": h["seconds"], "acc": h["acc"]}
               for h in metrics["history"] if h.get("acc") is not None]
    tail = [h["acc"] for h in history[-last:]]
    return {"method": metrics["method"], "seed": seed, "teacher_acc": metrics["teacher_acc"],
            "student_acc": metrics["student_acc"],
            "last_mean": statistics.mean(tail) if tail else None,
            "best_acc": metrics["best_student_acc"],
            "ratio": metrics["student_acc"] / metrics["teacher_acc"],
            "iters": metrics["iters"], "seconds": metrics["seconds"],
            "cpu_seconds": round(spent["cpu_seconds"], 1), "parts": spent["parts"],
            "history": history}

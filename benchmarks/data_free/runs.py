"""A variant's run in a child process (``tools/train_dfkd.py``) and its results row."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks import OUT, ROOT
from benchmarks.children import run_child
from benchmarks.data_free.variants import DATASET, BenchmarkError, Variant, set_flags

TRAIN_SCRIPT = ROOT / "tools" / "train_dfkd.py"


def passthrough_flags(data_root: str | None = None, teacher_ckpt: str | None = None) -> list[str]:
    """Flags every training child gets: where the data and the teacher are."""
    flags = []
    if data_root:
        flags += ["--data-root", str(data_root)]
    if teacher_ckpt:
        flags += ["--teacher-ckpt", str(teacher_ckpt)]
    return flags


def run_variant(variant: Variant, extra: list[str] = (), passthrough: list[str] = (),
                out: Path | None = None, echo: bool = True) -> dict:
    """One fresh run of ``variant`` in a child process (``tools/train_dfkd.py``) in
    ``<out>/runs/<variant>``; its results row. ``extra`` are further config overrides."""
    run_dir = (out or OUT) / "runs" / variant.name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    overrides = [*variant.overrides, *extra]
    cmd = [sys.executable, str(TRAIN_SCRIPT), "--method", variant.method, "--dataset", DATASET,
           "--out", str(run_dir), *set_flags(overrides), *passthrough]
    print(f"== {variant.name}: {' '.join(cmd[1:])}", flush=True)
    status, peak_mb, wall, _ = run_child(cmd, run_dir / "stdout.txt", f"[{variant.name}] ", echo)
    if status != 0:
        tail = (run_dir / "stdout.txt").read_text().strip().splitlines()[-3:]
        raise BenchmarkError(f"{variant.name} failed with exit status {status}: "
                             f"{' | '.join(tail) or 'no output'} (full output: "
                             f"{run_dir / 'stdout.txt'})")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return summarize(metrics, variant=variant.name, overrides=overrides,
                     peak_rss_mb=peak_mb, process_seconds=wall)


def summarize(metrics: dict, *, variant: str | None = None, overrides=(),
              peak_rss_mb: float | None = None, process_seconds: float | None = None) -> dict:
    """One results row from a run's metrics.json (and what the parent measured)."""
    return {
        "variant": variant or metrics["method"],
        "method": metrics["method"],
        "overrides": list(overrides),
        "teacher_acc": metrics["teacher_acc"],
        "student_acc": metrics["student_acc"],
        "best_student_acc": metrics["best_student_acc"],
        "ratio": metrics["student_acc"] / metrics["teacher_acc"],
        "iters": metrics["iters"],
        "seconds": metrics["seconds"],
        "iters_per_s": metrics["iters_per_second"],
        "peak_rss_mb": None if peak_rss_mb is None else round(peak_rss_mb, 1),
        "process_seconds": None if process_seconds is None else round(process_seconds, 2),
        "history": metrics["history"],
        "config": metrics["config"],
    }


def ensure_teacher(data_root: str | None = None) -> None:
    """Train the embedded-default teacher if it is missing (in a child, as the runs are)."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from dfkd.engine.teacher import "
            "load_teacher; load_teacher('lenet5', 'fashion_mnist', data_root=sys.argv[2] or "
            "None, train_if_missing=True)")
    subprocess.run([sys.executable, "-c", code, str(ROOT), data_root or ""], check=True)

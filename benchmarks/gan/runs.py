"""The runs of the GAN benchmark in child processes: teachers first, each task's students as
soon as its teacher is there, ``jobs`` side by side; done runs reused, cut runs resumed."""
from __future__ import annotations

import json
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable

from benchmarks import ROOT
from benchmarks.children import run_counting_cpu
from benchmarks.gan.plan import Run


def command(run: Run) -> list[str]:
    """The child's command line: ``--resume`` when its folder holds a checkpoint of a run
    that did not finish."""
    cmd = [sys.executable, str(ROOT / run.args[0]), *run.args[1:], "--out", str(run.folder)]
    if (run.folder / "latest.pt").exists() and not done(run):
        cmd.append("--resume")
    return cmd


def done(run: Run) -> bool:
    """Finished: its tool wrote ``metrics.json`` (last) and the generator file."""
    return (run.folder / "metrics.json").exists() and (run.folder / run.product).exists()


def execute(run: Run) -> dict:
    """``run`` in a child unless done; its CPU seconds over every part (``child.json``)."""
    part = ledger(run.folder)["parts"] + 1
    log = run.folder.parent / (f"{run.row}.log" if part == 1 else f"{run.row}.part{part}.log")
    spent = run_counting_cpu(run.name, command(run), run.folder, log)
    if not done(run):
        raise RuntimeError(f"{run.name} ended without {run.folder / run.product}")
    return spent


def train_metrics(run: Run) -> dict:
    """Iterations and training seconds from the run's metrics.json."""
    saved = json.loads((run.folder / "metrics.json").read_text())
    return {"iters": saved["iters"], "train_seconds": saved["seconds"]}


def cpu_seconds(run: Run, spent: dict) -> float:
    """The run's CPU seconds: its training loop's own count (metrics.json; kept in every
    checkpoint, so parts cut short by a session's end count up to their last checkpoint),
    else the children's (``spent``, which misses parts whose parent was killed)."""
    path = run.folder / "metrics.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    return saved.get("cpu_seconds") or spent["cpu_seconds"]


def run_all(runs: list[Run], jobs: int, on_done: Callable[[Run, dict], None],
            stop_after: float | None = None) -> list[str]:
    """Every run of ``runs`` (each task's teacher before its students), ``jobs`` at a
    time; ``on_done(run, spent)`` in this thread after each finishes (also for those done
    before). No run starts after ``stop_after`` minutes. Returns the errors."""
    start = time.monotonic()
    teachers = {r.task: r for r in runs if r.row == "teacher"}
    waiting = [r for r in runs if r.row != "teacher"]
    ready = list(teachers.values())
    errors: list[str] = []
    failed_teachers: set[str] = set()
    left: list[Run] = []  # not started: past --stop-after
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        active = {}
        while ready or active or waiting:
            if stop_after is not None and time.monotonic() - start > stop_after * 60:
                left += [r for r in ready if not done(r)]  # finished ones are still reported
                ready = [r for r in ready if done(r)]
            while ready and len(active) < max(1, jobs):
                run = ready.pop(0)
                active[pool.submit(execute, run)] = run
            if not active:
                break
            finished, _ = wait(active, return_when=FIRST_COMPLETED)
            for future in finished:
                run = active.pop(future)
                try:
                    spent = future.result()
                except (RuntimeError, OSError) as exc:
                    errors.append(str(exc))
                    print(f"error: {exc}", file=sys.stderr, flush=True)
                    if run.row == "teacher":
                        failed_teachers.add(run.task)
                    continue
                on_done(run, spent)
            for run in list(waiting):
                key = run.task
                if key in failed_teachers:
                    waiting.remove(run)
                    errors.append(f"{run.name} not run: its teacher failed")
                elif key not in teachers or done(teachers[key]):
                    waiting.remove(run)
                    ready.append(run)
    left += waiting  # their teacher was not started
    if left:
        print(f"--stop-after {stop_after:g}: {len(left)} runs left for the next invocation: "
              + ", ".join(r.name for r in left), flush=True)
    return errors


def ledger(folder: Path) -> dict:
    """The CPU seconds of a run folder's children (``child.json``), zero when none ran."""
    path = folder / "child.json"
    return json.loads(path.read_text()) if path.exists() else {"cpu_seconds": 0.0, "parts": 0}

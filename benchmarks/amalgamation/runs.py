"""The half-teachers of a seed and its data-free runs on them, each in a child process; the
rows. A row is a method on the two teachers: ``amalgamation`` (Ye et al., its own config)
or ``dafl`` (DAFL's game on the teachers' ensemble, ``configs/dafl/<CONFIGS[dafl]>``)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks import ROOT
from benchmarks.children import run_child, run_counting_cpu
from benchmarks.pairs.runs import train_dfkd_command

TEACHER = "lenet5"
DATASET = "fashion_mnist"
HALVES = ("0-4", "5-9")
TEACHER_EPOCHS = 8  # the pilot: 91.6% (0-4) and 96.7% (5-9) on their halves at seed 0
SEEDS = (0, 1, 2)
#: each row's method and its config file (None: configs/<method>/fashion_mnist.yaml)
CONFIGS = {"amalgamation": None, "dafl": "fashion_mnist_half_teachers.yaml"}
TOOLS = ROOT / "tools"


def teacher_path(half: str, seed: int) -> Path:
    return ROOT / "checkpoints" / f"{TEACHER}_{DATASET}_classes{half}_seed{seed}.pt"


def ensure_teachers(seed: int, data_root: str | None, runs: Path) -> dict:
    """Seed ``seed``'s two half-teachers, each trained in a child (one thread) when its file
    is missing; returns the CPU seconds spent on them now and before (``teachers.json``)."""
    ledger = runs / f"teachers-seed{seed}.json"
    spent = json.loads(ledger.read_text()) if ledger.exists() else {}
    for half in HALVES:
        path = teacher_path(half, seed)
        if path.exists():
            continue
        run_dir = runs / f"teacher-{half}-seed{seed}"
        cmd = [sys.executable, str(TOOLS / "train_teacher.py"), "--model", TEACHER,
               "--dataset", DATASET, "--classes", half, "--epochs", str(TEACHER_EPOCHS),
               "--seed", str(seed), "--out", str(path), "--run-dir", str(run_dir)]
        if data_root:
            cmd += ["--data-root", data_root]
        if (run_dir / "latest.pt").exists():
            cmd.append("--resume")
        print(f"[teacher {half}/{seed}] {' '.join(cmd[1:])}", flush=True)
        runs.mkdir(parents=True, exist_ok=True)
        child = run_child(cmd, runs / f"teacher-{half}-seed{seed}.log", echo=False)
        if child.status != 0:
            raise RuntimeError(f"teacher {half} of seed {seed} failed (exit {child.status})")
        spent[half] = spent.get(half, 0.0) + child.cpu_seconds
        ledger.write_text(json.dumps(spent))
    return spent


def run_command(seed: int, folder: Path, data_root: str | None,
                extra: tuple[str, ...] = (), method: str = "amalgamation") -> list[str]:
    ckpts = ",".join(str(teacher_path(half, seed)) for half in HALVES)
    config = CONFIGS[method]
    return train_dfkd_command(method, seed, folder, data_root,
                              ["--set", f"teacher={TEACHER}", "--set", f"teacher_ckpt=[{ckpts}]"],
                              extra, ROOT / "configs" / method / config if config else None)


def run_folder(runs: Path, method: str, seed: int) -> Path:
    return runs / f"{method}-seed{seed}"


def run_seed(seed: int, runs: Path, data_root: str | None, extra: tuple[str, ...] = (),
             method: str = "amalgamation") -> dict:
    """Seed ``seed``'s run of ``method`` in a child; its row. CPU seconds add up over
    resumed parts (``<folder>/child.json``)."""
    teachers = ensure_teachers(seed, data_root, runs)
    folder = run_folder(runs, method, seed)
    spent = run_counting_cpu(f"{method}/{seed}",
                             run_command(seed, folder, data_root, extra, method),
                             folder, runs / f"{method}-seed{seed}.log")
    row = {"method": method,
           **summarize(json.loads((folder / "metrics.json").read_text()), seed, spent, teachers)}
    return {**row, "overrides": list(extra)} if extra else row


def summarize(metrics: dict, seed: int, spent: dict, teachers: dict) -> dict:
    """A row from a run's metrics.json (its ``teacher_acc`` is the ensemble's) and CPU times."""
    history = [{"iteration": h["iteration"], "seconds": h["seconds"], "acc": h["acc"]}
               for h in metrics["history"] if h.get("acc") is not None]
    return {"seed": seed, "ensemble_acc": metrics["teacher_acc"],
            "student_acc": metrics["student_acc"], "best_acc": metrics["best_student_acc"],
            "ratio": metrics["student_acc"] / metrics["teacher_acc"],
            "iters": metrics["iters"], "seconds": metrics["seconds"],
            "cpu_seconds": round(spent["cpu_seconds"], 1), "parts": spent["parts"],
            "teacher_cpu_seconds": {k: round(v, 1) for k, v in teachers.items()},
            "history": history}


def teacher_accuracies(seed: int) -> dict[str, float | None]:
    """Each half-teacher's accuracy on its own half of the test set, read by a child (the
    parent stays without torch: see benchmarks.children)."""
    code = ("import sys, json, torch; print(json.dumps([torch.load(p, weights_only=True)"
            "['meta'].get('test_acc') for p in sys.argv[1:]]))")
    paths = [str(teacher_path(half, seed)) for half in HALVES]
    if not all(Path(p).exists() for p in paths):
        return {}
    out = subprocess.run([sys.executable, "-c", code, *paths], capture_output=True, text=True,
                         check=True).stdout
    return dict(zip(HALVES, json.loads(out)))

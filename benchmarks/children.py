"""Benchmark children: each measured run is a tool in its own process.

A child's peak RSS is read from its own rusage (``os.wait4``). On Linux a child started by
``subprocess`` (vfork + exec) begins with its parent's peak RSS in its ``ru_maxrss``, so a
parent that has imported torch would inflate every child's figure: benchmark parents import
torch only after their children have run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple


class Child(NamedTuple):
    """A finished child: exit status, its own peak RSS (MB), wall and CPU seconds."""

    status: int
    peak_mb: float
    seconds: float
    cpu_seconds: float


def run_child(cmd: list[str], log_path: Path, prefix: str = "", echo: bool = True
              ) -> Child:
    """Run ``cmd``, copying its output (stdout and stderr) to ``log_path`` and, with
    ``echo``, to this process's stdout. Returns exit status, the child's peak RSS in MB and
    its CPU seconds (its own rusage from ``os.wait4``), and wall seconds."""
    start = time.perf_counter()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env)
        for line in proc.stdout:
            log.write(line)
            log.flush()
            if echo:
                print(prefix + line, end="", flush=True)
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    kib = usage.ru_maxrss / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS
    return Child(proc.returncode, kib / 1024, time.perf_counter() - start,
                 usage.ru_utime + usage.ru_stime)


def run_unless_done(name: str, cmd: list[str], folder: Path, product: str) -> None:
    """Run the tool ``cmd`` (script and flags) with ``--out folder`` in a child process,
    logging to ``<folder>.log``, unless ``folder/product`` exists; a run cut short is
    continued with ``--resume``. A failed child stops the benchmark."""
    if (folder / product).exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, *cmd, "--out", str(folder)]
    if (folder / "latest.pt").exists():
        cmd.append("--resume")
    print(f"[{name}] {' '.join(cmd[1:])}", flush=True)
    log = folder.parent / f"{folder.name}.log"
    status = run_child(cmd, log, prefix=f"[{name}] ").status
    if status != 0:
        raise SystemExit(f"{name} failed (exit {status}); see {log}")


def run_counting_cpu(name: str, cmd: list[str], folder: Path, log_path: Path) -> dict:
    """``cmd`` in a child unless ``folder/metrics.json`` exists (the run is done); the CPU
    seconds of every part of a run resumed over several calls add up in ``folder/child.json``,
    which is returned (``{"cpu_seconds", "parts"}``). A failed child is a RuntimeError that
    names the log."""
    folder.mkdir(parents=True, exist_ok=True)
    ledger = folder / "child.json"
    spent = json.loads(ledger.read_text()) if ledger.exists() else {"cpu_seconds": 0.0, "parts": 0}
    if not (folder / "metrics.json").exists():
        print(f"[{name}] {' '.join(cmd[1:])}", flush=True)
        child = run_child(cmd, log_path, f"[{name}] ", echo=False)
        spent = {"cpu_seconds": spent["cpu_seconds"] + child.cpu_seconds,
                 "parts": spent["parts"] + 1}
        ledger.write_text(json.dumps(spent))
        if child.status != 0:
            raise RuntimeError(f"{name} failed (exit {child.status}); see {log_path}")
    return spent

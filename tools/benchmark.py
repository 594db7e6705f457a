#!/usr/bin/env python
"""Benchmarks on the embedded default (Fashion-MNIST, LeNet-5 -> LeNet-5-half).

    python tools/benchmark.py                             # every variant, memory, overhead
    python tools/benchmark.py --methods dafl mad-replay   # a subset; other rows are kept
    python tools/benchmark.py --memory                    # only the memory-flatness run
    python tools/benchmark.py --overhead-only             # only the loop overhead

A *variant* is a method plus config overrides, named after both: ``dafl`` runs
configs/dafl/fashion_mnist.yaml as it is, ``dafl-noreplay`` adds ``replay.capacity=0``,
``dfad-replay`` adds a 10k reservoir replay buffer feeding half of each student batch.
By default every method (dafl dfad zskt mad cgdd) runs as configured and with replay
switched the other way from its config.

Each variant runs in its own child process (``tools/train_dfkd.py``), so its peak RSS,
read from ``os.wait4``, is its own; its output is echoed and kept in
``benchmarks/runs/<variant>/stdout.txt``. A row holds the teacher's and the final
student's accuracy on the real test set, their ratio, the best accuracy, iterations,
training wall time, iterations/s, peak RSS and the run's evaluation history.

Then, in this order:

* memory: a cheap DAFL run with a full replay buffer (10k samples, reservoir) for 10,000
  iterations, through the same child-process path; its RSS at iterations 1,000 and
  10,000 (``rss_mb`` in its history) shows whether memory stays flat;
* forgetting: for ``dfad`` and ``mad`` (same budget), the student's agreement with the
  teacher on a fixed bank of early synthetic samples at each evaluation
  (``early_bank_acc`` in the history): one line each, and benchmarks/forgetting.png when
  matplotlib is installed (``pip install -e '.[bench]'``);
* loop overhead: the shared loop against a minimal hand-written PyTorch loop with the same
  models, batch and steps (DFAD's game without replay or augmentation), timed in
  alternating blocks in this process.

Writes benchmarks/results.json and results.md (after every row, so an interrupted run keeps
what it measured). This process imports torch only after the children have run: on Linux a
child started by ``subprocess`` (vfork + exec) begins with its parent's peak RSS in its own
``ru_maxrss``, so a heavy parent would inflate every child's figure.
"""
from __future__ import annotations

import argparse
import copy
import difflib
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = Path("benchmarks")
TRAIN_SCRIPT = ROOT / "tools" / "train_dfkd.py"
CONFIGS = ROOT / "configs"
DATASET = "fashion_mnist"
METHODS = ("dafl", "dfad", "zskt", "mad", "cgdd")

# Variant name suffix -> the config overrides it adds to the method's config.
REPLAY_ON = ("replay.capacity=10000", "replay.policy=reservoir", "replay.ratio=0.5")
REPLAY_OFF = ("replay.capacity=0",)
SUFFIXES = {"": (), "-replay": REPLAY_ON, "-noreplay": REPLAY_OFF}

# The memory-flatness run: DAFL at cheap settings with a replay buffer that fills early.
MEMORY_OVERRIDES = ("replay.capacity=10000", "replay.policy=reservoir",
                    "train.batch_size=32", "generator.ngf=4", "student.steps=1")
MEMORY_TOLERANCE_MB, MEMORY_TOLERANCE_FRACTION = 20.0, 0.05  # "flat": growth within both

FORGETTING_VARIANTS = ("dfad", "mad")  # compared on the same budget
TARGET_RATIO, BEST_RATIO, STRETCH_RATIO = 0.85, 0.92, 0.97


class BenchmarkError(Exception):
    """A benchmark step failed: an unknown variant, a failed run, a missing measurement."""


# -- variants -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """A results row's identity: a method and the config overrides added to its config."""

    name: str
    method: str
    overrides: tuple[str, ...] = ()


def known_methods() -> list[str]:
    """The benchmark's methods, then any other method with an embedded-default config."""
    extra = sorted(p.parent.name for p in CONFIGS.glob(f"*/{DATASET}.yaml")
                   if p.parent.name not in METHODS)
    return [*METHODS, *extra]


def parse_variant(name: str) -> Variant:
    """``dafl`` -> dafl as configured; ``dafl-noreplay`` -> dafl + replay.capacity=0;
    ``dfad-replay`` -> dfad + a 10k reservoir replay buffer (ratio 0.5)."""
    methods = known_methods()
    for suffix in ("-noreplay", "-replay", ""):
        method = name[: len(name) - len(suffix)] if suffix else name
        if name.endswith(suffix) and method in methods:
            return Variant(name, method, SUFFIXES[suffix])
    candidates = [m + s for m in methods for s in SUFFIXES]
    close = difflib.get_close_matches(name, candidates, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise BenchmarkError(
        f"unknown variant {name!r}{hint}: a variant is a method ({', '.join(methods)}) "
        "optionally followed by -replay or -noreplay, e.g. dafl-noreplay")


def config_file(method: str) -> Path:
    """The method's embedded-default config, with a clear error when it does not exist."""
    path = CONFIGS / method / f"{DATASET}.yaml"
    if not path.exists():
        raise BenchmarkError(f"{method} has no embedded-default config ({path} is missing): "
                             "add it, or leave the method out of --methods")
    return path


def config_has_replay(method: str) -> bool:
    """Whether the method's embedded-default config turns replay on."""
    config = yaml.safe_load(config_file(method).read_text()) or {}
    return bool((config.get("replay") or {}).get("capacity", 0))


def default_variants(methods: tuple[str, ...] = METHODS) -> list[str]:
    """Each method as configured, then with replay switched the other way."""
    names = []
    for method in methods:
        names += [method, method + ("-noreplay" if config_has_replay(method) else "-replay")]
    return names


def resolve_variants(names: list[str]) -> list[Variant]:
    """Parse variant names and check every config exists before anything runs."""
    variants = [parse_variant(n) for n in dict.fromkeys(names)]
    for variant in variants:
        config_file(variant.method)
    return variants


def set_flags(overrides) -> list[str]:
    """``["a=1", "b=2"]`` -> ``["--set", "a=1", "--set", "b=2"]``."""
    return [x for o in overrides for x in ("--set", o)]


def row_key(row: dict) -> str:
    """A row's variant name (rows written before variants existed have only a method)."""
    return row.get("variant") or row["method"]


def row_order(row: dict) -> tuple:
    """Sort rows by method (benchmark order), then plain, -replay, -noreplay."""
    methods, name = known_methods(), row_key(row)
    method = row.get("method", name)
    suffix = name[len(method):]
    return (methods.index(method) if method in methods else len(methods), method,
            list(SUFFIXES).index(suffix) if suffix in SUFFIXES else len(SUFFIXES), name)


# -- child processes ----------------------------------------------------------------------
def run_child(cmd: list[str], log_path: Path, prefix: str = "", echo: bool = True
              ) -> tuple[int, float, float]:
    """Run ``cmd``, copying its output (stdout and stderr) to ``log_path`` and, with
    ``echo``, to this process's stdout. Returns exit status, the child's peak RSS in MB
    (its own rusage from ``os.wait4``) and wall seconds."""
    start = time.perf_counter()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env)
        for line in proc.stdout:
            log.write(line)
            if echo:
                print(prefix + line, end="", flush=True)
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    kib = usage.ru_maxrss / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS
    return proc.returncode, kib / 1024, time.perf_counter() - start


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
    status, _, _ = run_child(cmd, log, prefix=f"[{name}] ")
    if status != 0:
        raise SystemExit(f"{name} failed (exit {status}); see {log}")


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
    status, peak_mb, wall = run_child(cmd, run_dir / "stdout.txt", f"[{variant.name}] ", echo)
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


def machine_info(import_torch: bool = True) -> str:
    """Architecture, torch threads and version. Without ``import_torch`` (while children
    are still to run: see the module doc) the thread count is left out."""
    if not import_torch:
        return f"{platform.machine()}, torch {importlib.metadata.version('torch')}"
    import torch

    return (f"{platform.machine()}, {torch.get_num_threads()} torch threads, "
            f"torch {torch.__version__}")


# -- memory flatness ----------------------------------------------------------------------
def memory_variant(iters: int = 10000, early: int = 1000) -> Variant:
    """The memory run: DAFL with a replay buffer full long before ``early``."""
    return Variant("memory-dafl", "dafl", (*MEMORY_OVERRIDES, f"train.iters={iters}",
                                           f"train.eval_every={early}"))


def memory_check(iters: int = 10000, early: int = 1000, passthrough: list[str] = (),
                 out: Path | None = None, echo: bool = True) -> dict:
    """Run :func:`memory_variant` and read its RSS at ``early`` and ``iters``."""
    return memory_from_row(run_variant(memory_variant(iters, early), passthrough=passthrough,
                                       out=out, echo=echo), early, iters)


def memory_from_row(row: dict, early: int, late: int) -> dict:
    """RSS at iterations ``early`` and ``late`` from a row's history, and their difference;
    a clear error when the history does not record ``rss_mb`` there."""
    rss = {h.get("iteration"): h.get("rss_mb") for h in row.get("history", [])}
    missing = [it for it in (early, late) if rss.get(it) is None]
    if missing:
        raise BenchmarkError(
            f"the memory run's metrics.json history has no rss_mb at iteration(s) "
            f"{', '.join(map(str, missing))} (evaluations at: "
            f"{', '.join(str(i) for i in rss) or 'none'}): the training loop must record "
            "the process's current RSS as history[i]['rss_mb'] at each evaluation")
    growth = rss[late] - rss[early]
    return {"variant": row_key(row), "overrides": row.get("overrides", []),
            "early_iter": early, "late_iter": late,
            "rss_early_mb": rss[early], "rss_late_mb": rss[late], "growth_mb": growth,
            "flat": growth <= max(MEMORY_TOLERANCE_MB, MEMORY_TOLERANCE_FRACTION * rss[early]),
            "peak_rss_mb": row.get("peak_rss_mb"), "seconds": row.get("seconds"),
            "iters_per_s": row.get("iters_per_s"),
            "rss_history": [[it, v] for it, v in rss.items() if v is not None]}


# -- loop overhead (in this process) ------------------------------------------------------
def build_pair(method: str):
    """The shared loop's ``step`` and a hand-written DFAD step on identical copies."""
    import torch

    from dfkd.core.config import build_config
    from dfkd.core.registry import METHODS as REGISTRY
    from dfkd.data import get_spec
    from dfkd.discriminator_distillation.config import DFKDConfig
    from dfkd.engine import AdversarialLoop, Player, build_optimizer
    from dfkd.engine.teacher import load_teacher
    from dfkd.nets import build_model
    from generators import build_generator

    if method != "dfad":
        raise ValueError("the hand-written reference loop is DFAD's")
    cfg = build_config(DFKDConfig(), [Path("configs/dfad/fashion_mnist.yaml")])
    spec = get_spec("fashion_mnist")
    teacher, _ = load_teacher("lenet5", "fashion_mnist")
    torch.manual_seed(0)
    student = build_model(cfg.student.model, in_channels=1, num_classes=10)
    generator = build_generator(cfg.generator.model, cfg.generator.nz, cfg.generator.ngf,
                                spec.image_size, 1).to(memory_format=torch.channels_last)
    student2, generator2 = copy.deepcopy(student), copy.deepcopy(generator)
    batch, nz, n_s = cfg.train.batch_size, cfg.generator.nz, cfg.student.steps

    sp = Player.from_config("student", student, cfg.student, cfg.train.iters)
    gp = Player.from_config("generator", generator, cfg.generator, cfg.train.iters)
    m = REGISTRY.get("dfad")(teacher, student, generator, nz=nz, batch_size=batch, spec=spec)
    loop = AdversarialLoop(m, sp, gp, cfg.train.iters, OUT / "runs" / "overhead")

    opt_s = build_optimizer(student2.parameters(), cfg.student.optim)
    opt_g = build_optimizer(generator2.parameters(), cfg.generator.optim)

    def manual_step(_: int) -> None:
        x = generator2(torch.randn(batch, nz))
        loss_g = -(student2(x) - teacher(x)).abs().mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        for _ in range(n_s):
            with torch.no_grad():
                x = generator2(torch.randn(batch, nz))
                t = teacher(x)
            loss_s = (student2(x) - t).abs().mean()
            opt_s.zero_grad()
            loss_s.backward()
            opt_s.step()

    return loop.step, manual_step


def loop_overhead(method: str = "dfad", blocks: int = 40, iters_per_block: int = 1) -> dict:
    """Time the shared loop and a hand-written loop in alternating blocks (ABBA order,
    so drifts in machine load hit both alike). The ratio is the median over blocks of
    shared/manual time of the two runs adjacent in time, which cancels slow load drifts."""
    import dfkd.discriminator_distillation.methods  # noqa: F401  (registers the methods)

    shared_step, manual_step = build_pair(method)
    for step in (shared_step, manual_step):  # warm-up
        step(0)
    times: dict[str, list[float]] = {"shared": [], "manual": []}
    pair = [("shared", shared_step), ("manual", manual_step)]
    for block in range(blocks):
        for name, step in (pair if block % 2 == 0 else pair[::-1]):
            start = time.perf_counter()
            for i in range(iters_per_block):
                step(i)
            times[name].append((time.perf_counter() - start) / iters_per_block)
    shared, manual = statistics.median(times["shared"]), statistics.median(times["manual"])
    block_ratios = sorted(a / b for a, b in zip(times["shared"], times["manual"]))
    return {"method": method, "shared_s_per_iter": shared, "manual_s_per_iter": manual,
            "ratio": statistics.median(block_ratios), "block_ratio_quartiles": [
                block_ratios[len(block_ratios) // 4], block_ratios[3 * len(block_ratios) // 4]],
            "blocks": blocks, "iters_per_block": iters_per_block}


# -- report -------------------------------------------------------------------------------
def _num(value, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def table_lines(rows: list[dict]) -> list[str]:
    """The results table, one line per variant (failed runs say so)."""
    lines = ["| variant | teacher acc | student acc | ratio | best acc | iters | wall time | "
             "it/s | peak RSS (MB) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {row_key(r)} | failed (see below) | | | | | | | |")
            continue
        lines.append(f"| {row_key(r)} | {r['teacher_acc']:.2f} | {r['student_acc']:.2f} | "
                     f"{r['ratio']:.3f} | {r['best_student_acc']:.2f} | {r['iters']} | "
                     f"{r['seconds'] / 60:.1f} min | {r['iters_per_s']:.2f} | "
                     f"{_num(r.get('peak_rss_mb'), '.0f')} |")
    return lines


def variant_lines(rows: list[dict]) -> list[str]:
    """What each row ran: its overrides of the method's config, and failures."""
    lines = []
    described = [f"`{row_key(r)}`: {' '.join(r['overrides'])}" for r in rows
                 if r.get("overrides")]
    if described:
        lines += ["", "Overrides of each method's configs/<method>/fashion_mnist.yaml: "
                  + "; ".join(described) + "."]
    for r in rows:
        if "error" in r:
            lines += ["", f"{row_key(r)} failed: {r['error']}"]
    return lines


def history_lines(rows: list[dict]) -> list[str]:
    """Accuracy over time, one paragraph per run."""
    lines = []
    for r in rows:
        if "error" in r:
            continue
        points = ", ".join(f"{h['acc']:.1f}% at {h['seconds'] / 60:.1f} min"
                           for h in r.get("history", []) if h.get("acc") is not None)
        lines += ["", f"{row_key(r)} student accuracy during the run (iteration every "
                  f"{r['config']['train']['eval_every']}): {points}."]
    return lines


def target_lines(rows: list[dict]) -> list[str]:
    """The issue's targets: ratio floors, the best ratio, MAD against DFAD."""
    done = [r for r in rows if "error" not in r]
    if not done:
        return []
    low = [f"{row_key(r)} ({r['ratio']:.3f})" for r in done if r["ratio"] < TARGET_RATIO]
    best = max(done, key=lambda r: r["ratio"])
    lines = ["", "## Targets", "",
             f"- every row >= {TARGET_RATIO}x the teacher: "
             + ("yes" if not low else "no; below: " + ", ".join(low)),
             f"- best ratio {best['ratio']:.3f} ({row_key(best)}): target {BEST_RATIO}x "
             f"{'met' if best['ratio'] >= BEST_RATIO else 'not met'}, stretch "
             f"{STRETCH_RATIO}x {'met' if best['ratio'] >= STRETCH_RATIO else 'not met'}"]
    by_name = {row_key(r): r for r in done}
    if "mad" in by_name and "dfad" in by_name:
        mad, dfad = by_name["mad"], by_name["dfad"]
        verdict = "yes" if mad["student_acc"] >= dfad["student_acc"] else "no"
        budget = ("same budget" if mad["iters"] == dfad["iters"] else
                  f"budgets differ: {mad['iters']} vs {dfad['iters']} iterations")
        lines.append(f"- MAD >= DFAD: {verdict} ({mad['student_acc']:.2f} vs "
                     f"{dfad['student_acc']:.2f}; {budget})")
    return lines


def memory_lines(memory: dict | None) -> list[str]:
    """The memory-flatness section."""
    if not memory:
        return []
    lines = ["", "## Memory", ""]
    if "error" in memory:
        return lines + [f"Not measured: {memory['error']}"]
    m = memory
    points = ", ".join(f"{v:.0f} MB at {it}" for it, v in m.get("rss_history", []))
    lines.append(
        f"DAFL with a full replay buffer ({' '.join(m['overrides'])}), "
        f"{_num(m.get('iters_per_s'), '.1f')} it/s: RSS **{m['rss_early_mb']:.1f} MB** at "
        f"iteration {m['early_iter']} and **{m['rss_late_mb']:.1f} MB** at iteration "
        f"{m['late_iter']}, a difference of {m['growth_mb']:+.1f} MB "
        f"({m['growth_mb'] / m['rss_early_mb']:+.1%}): "
        f"{'flat' if m['flat'] else 'NOT flat'} (tolerance: the larger of "
        f"{MEMORY_TOLERANCE_MB:.0f} MB and {MEMORY_TOLERANCE_FRACTION:.0%}); peak RSS "
        f"{_num(m.get('peak_rss_mb'), '.0f')} MB. RSS at each evaluation: {points}.")
    return lines


def forgetting_series(rows: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """(iteration, early_bank_acc) per run of :data:`FORGETTING_VARIANTS` that has them."""
    by_name = {row_key(r): r for r in rows if "error" not in r}
    series = {}
    for name in FORGETTING_VARIANTS:
        points = [(h["iteration"], h["early_bank_acc"]) for h in
                  by_name.get(name, {}).get("history", [])
                  if h.get("early_bank_acc") is not None and h.get("iteration") is not None]
        if points:
            series[name] = points
    return series


def write_forgetting_plot(series: dict[str, list[tuple[int, float]]], path: Path) -> str | None:
    """Plot early-bank agreement over iterations; None if written, else why not."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]')"
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, points in series.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    ax.set_xlabel("iteration")
    ax.set_ylabel("agreement with the teacher on the early bank (%)")
    ax.set_title("Forgetting: early synthetic samples")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None


def forgetting_lines(rows: list[dict], out: Path, plot: bool = True) -> list[str]:
    """The forgetting section: a line per run and, with ``plot``, forgetting.png (when
    matplotlib is there)."""
    present = {row_key(r) for r in rows if "error" not in r}
    if not present & set(FORGETTING_VARIANTS):
        return []
    series = forgetting_series(rows)
    lines = ["", "## Forgetting", "",
             "Student agreement with the teacher on a fixed bank of synthetic samples "
             "captured at the first evaluation (history's `early_bank_acc`; lower over "
             f"time means more forgetting), {' and '.join(FORGETTING_VARIANTS)} on their "
             "configs' budgets."]
    path = out / "forgetting.png"
    if series and plot:
        why_not = write_forgetting_plot(series, path)
        if why_not:
            print(f"note: no {path}: {why_not}")
            lines += ["", f"No plot: {why_not}."]
        else:
            lines += ["", f"Plot: [{path.name}]({path.name})."]
    for name in FORGETTING_VARIANTS:
        if name not in present:
            lines += ["", f"{name}: no run in these results."]
        elif name not in series:
            lines += ["", f"{name}: its history has no early_bank_acc."]
        else:
            values = [v for _, v in series[name]]
            points = ", ".join(f"{v:.1f}% at {it}" for it, v in series[name])
            lines += ["", f"{name} early-bank agreement by iteration: {points}; final "
                      f"{values[-1]:.1f}%, min {min(values):.1f}%."]
    return lines


def overhead_lines(o: dict | None) -> list[str]:
    """The loop-overhead section."""
    if not o:
        return []
    return ["", "## Loop overhead", "",
            f"Shared loop vs a minimal hand-written PyTorch loop ({o['method']}, same "
            f"models, batch and steps; {o['blocks']} alternating blocks of "
            f"{o['iters_per_block']} iterations): median {o['shared_s_per_iter'] * 1000:.1f} "
            f"ms vs {o['manual_s_per_iter'] * 1000:.1f} ms per iteration, median "
            "ratio of adjacent blocks "
            f"**{o['ratio']:.3f}** (per-block ratios, quartiles: "
            f"{o['block_ratio_quartiles'][0]:.3f}-{o['block_ratio_quartiles'][1]:.3f}; "
            "the spread is the machine's noise)."]


def write_report(results: dict, out: Path | None = None, plot: bool = True) -> None:
    """Write ``results.json`` and ``results.md`` into ``out``; with ``plot``, also
    forgetting.png (main's reports between runs leave it out: importing matplotlib would
    grow this process, and with it the next child's measured peak RSS)."""
    out = out or OUT
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    rows = results.get("methods", [])
    lines = ["# Benchmarks: data-free distillation on the embedded default", "",
             f"Fashion-MNIST, LeNet-5 teacher -> LeNet-5-half student, {results['machine']}.",
             f"Generated by `python tools/benchmark.py` on {results['date']}. Each variant "
             "ran alone in a child process; peak RSS is that process's.", ""]
    lines += table_lines(rows) + variant_lines(rows) + history_lines(rows)
    lines += target_lines(rows) + memory_lines(results.get("memory"))
    lines += forgetting_lines(rows, out, plot) + overhead_lines(results.get("overhead"))
    (out / "results.md").write_text("\n".join(lines) + "\n")


# -- main ---------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="*", default=None, metavar="VARIANT",
                        help="variants to (re)run, e.g. dafl dafl-noreplay dfad-replay "
                             "(default: every method, as configured and with replay "
                             "switched the other way)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="config override for every variant row "
                        "(not the memory run)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--memory", action="store_true", help="run only the memory check")
    only.add_argument("--overhead-only", action="store_true", help="run only the loop overhead")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory check")
    parser.add_argument("--no-overhead", action="store_true", help="skip the loop overhead")
    parser.add_argument("--memory-iters", type=int, default=10000)
    parser.add_argument("--memory-early", type=int, default=1000,
                        help="the memory run's first RSS reading and evaluation interval")
    parser.add_argument("--data-root", default=None, help="passed to every training run")
    parser.add_argument("--teacher-ckpt", default=None, help="passed to every training run")
    parser.add_argument("--out-dir", default=str(OUT), help="where results and runs go")
    parser.add_argument("--quiet", action="store_true", help="do not echo the runs' output")
    return parser.parse_args(argv)


def load_previous(out: Path) -> dict:
    """The previous results.json in ``out`` (rows of variants not rerun are kept)."""
    path = out / "results.json"
    return json.loads(path.read_text()) if path.exists() else {}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out_dir)
    run_rows = not (args.memory or args.overhead_only)
    run_memory = args.memory or (run_rows and not args.no_memory)
    run_overhead = args.overhead_only or (run_rows and not args.no_overhead)
    try:
        variants = resolve_variants(args.methods or default_variants()) if run_rows else []
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    passthrough = passthrough_flags(args.data_root, args.teacher_ckpt)
    if not args.teacher_ckpt and (variants or run_memory or run_overhead):
        ensure_teacher(args.data_root)

    previous = load_previous(out)
    rerun = {v.name for v in variants}
    results = {"machine": machine_info(import_torch=False), "date": time.strftime("%Y-%m-%d"),
               "methods": [r for r in previous.get("methods", []) if row_key(r) not in rerun]}
    for key in ("memory", "overhead"):
        if key in previous:
            results[key] = previous[key]
    failed = False
    for variant in variants:
        try:
            row = run_variant(variant, args.overrides, passthrough, out, not args.quiet)
        except BenchmarkError as exc:
            print(f"error: {exc}", file=sys.stderr)
            row, failed = {"variant": variant.name, "method": variant.method,
                           "overrides": [*variant.overrides, *args.overrides],
                           "error": str(exc)}, True
        results["methods"] = sorted(results["methods"] + [row], key=row_order)
        write_report(results, out, plot=False)
    if run_memory:
        try:
            results["memory"] = memory_check(args.memory_iters, args.memory_early, passthrough,
                                             out, not args.quiet)
        except BenchmarkError as exc:
            print(f"error: {exc}", file=sys.stderr)
            results["memory"], failed = {"error": str(exc)}, True
        write_report(results, out, plot=False)
    if run_overhead:
        results["overhead"] = loop_overhead()
    results["machine"] = machine_info()
    write_report(results, out)
    print((out / "results.md").read_text())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

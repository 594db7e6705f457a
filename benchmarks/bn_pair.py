"""Data-free methods on the BatchNorm pair, three seeds: ``benchmarks/bn_pair.md``.

    python tools/benchmark_bn_pair.py                        # every missing run, then the report
    python tools/benchmark_bn_pair.py --methods nayer --seeds 0
    python tools/benchmark_bn_pair.py --report-only

The pair: LeNet-5 with BatchNorm (``lenet5_bn``, the teacher that BN-statistics methods
need) -> LeNet-5-half on Fashion-MNIST. Seed ``s`` is both the teacher's and the student
run's seed: teacher ``s`` is ``checkpoints/lenet5_bn_fashion_mnist.pt`` for seed 0 and
``..._seed<s>.pt`` otherwise, trained here (``tools/train_teacher.py``, 10 epochs) when
missing. Each (method, seed) is ``tools/train_dfkd.py`` on ``configs/<method>/
fashion_mnist.yaml`` with ``teacher=lenet5_bn`` and ``train.threads=1`` in its own child
process, ``--jobs`` of them side by side (two on the 2-core machine: one core each). A row
holds the run's final test accuracy, the mean of its last three evaluations, the best one
(reported, never used to pick), its training seconds and the child's CPU seconds.

Resumable: ``bn_pair.json`` is rewritten after every finished run and a run already in it is
not repeated; a run cut short continues from its ``latest.pt`` (``--resume``).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from benchmarks import OUT, ROOT
from benchmarks.children import run_child
from benchmarks.machine import machine_info
from benchmarks.plots import pyplot

TEACHER = "lenet5_bn"
DATASET = "fashion_mnist"
TEACHER_EPOCHS = 10
METHODS = ("deepinversion", "cmi", "fast_dfkd", "nayer")
SEEDS = (0, 1, 2)
LAST = 3  # evaluations averaged for "last mean"
BUDGET_MINUTES = 15.0  # per run, CPU minutes (the "runs to a result in 15 minutes")
SPEED_FACTOR = 5  # Fast-DFKD / NAYER: DeepInversion's accuracy in a fifth of its time
SPEED_METHODS = ("fast_dfkd", "nayer")
BEST_RATIO = 0.92
TOOLS = ROOT / "tools"


def teacher_path(seed: int) -> Path:
    """Teacher ``seed``'s checkpoint (seed 0 is the file train_dfkd.py finds by default)."""
    suffix = "" if seed == 0 else f"_seed{seed}"
    return ROOT / "checkpoints" / f"{TEACHER}_{DATASET}{suffix}.pt"


def ensure_teacher(seed: int, data_root: str | None, runs: Path) -> Path:
    """Teacher ``seed``, trained in a child process when its file is missing."""
    path = teacher_path(seed)
    if not path.exists():
        cmd = [sys.executable, str(TOOLS / "train_teacher.py"), "--model", TEACHER,
               "--dataset", DATASET, "--epochs", str(TEACHER_EPOCHS), "--seed", str(seed),
               "--out", str(path), "--run-dir", str(runs / f"teacher_seed{seed}")]
        if data_root:
            cmd += ["--data-root", data_root]
        print(f"[teacher {seed}] {' '.join(cmd[1:])}", flush=True)
        subprocess.run(cmd, check=True)
    return path


def run_command(method: str, seed: int, folder: Path, data_root: str | None,
                extra: tuple[str, ...] = ()) -> list[str]:
    cmd = [sys.executable, str(TOOLS / "train_dfkd.py"), "--method", method, "--dataset",
           DATASET, "--seed", str(seed), "--teacher-ckpt", str(teacher_path(seed)),
           "--set", f"teacher={TEACHER}", "--set", "train.threads=1", "--out", str(folder)]
    cmd += [x for o in extra for x in ("--set", o)]
    if data_root:
        cmd += ["--data-root", data_root]
    if (folder / "latest.pt").exists():
        cmd.append("--resume")
    return cmd


def run_one(method: str, seed: int, runs: Path, data_root: str | None,
            extra: tuple[str, ...] = ()) -> dict:
    """(method, seed) in a child process; its row. CPU seconds add up over resumed parts
    (kept in ``<folder>/child.json``)."""
    folder = runs / f"{method}-seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    ledger = folder / "child.json"
    spent = json.loads(ledger.read_text()) if ledger.exists() else {"cpu_seconds": 0.0, "parts": 0}
    if not (folder / "metrics.json").exists():
        cmd = run_command(method, seed, folder, data_root, extra)
        print(f"[{method}/{seed}] {' '.join(cmd[1:])}", flush=True)
        child = run_child(cmd, runs / f"{method}-seed{seed}.log", f"[{method}/{seed}] ",
                          echo=False)
        spent = {"cpu_seconds": spent["cpu_seconds"] + child.cpu_seconds,
                 "parts": spent["parts"] + 1}
        ledger.write_text(json.dumps(spent))
        if child.status != 0:
            raise RuntimeError(f"{method} seed {seed} failed (exit {child.status}); see "
                               f"{runs / f'{method}-seed{seed}.log'}")
    row = summarize(json.loads((folder / "metrics.json").read_text()), seed, spent)
    return {**row, "overrides": list(extra)} if extra else row


def summarize(metrics: dict, seed: int, spent: dict) -> dict:
    """A row from a run's metrics.json and its child's CPU seconds."""
    history = [{"iteration": h["iteration"], "seconds": h["seconds"], "acc": h["acc"]}
               for h in metrics["history"] if h.get("acc") is not None]
    last = [h["acc"] for h in history[-LAST:]]
    return {"method": metrics["method"], "seed": seed, "teacher_acc": metrics["teacher_acc"],
            "student_acc": metrics["student_acc"],
            "last_mean": statistics.mean(last) if last else None,
            "best_acc": metrics["best_student_acc"],
            "ratio": metrics["student_acc"] / metrics["teacher_acc"],
            "iters": metrics["iters"], "seconds": metrics["seconds"],
            "cpu_seconds": round(spent["cpu_seconds"], 1), "parts": spent["parts"],
            "history": history}


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def method_summary(rows: list[dict]) -> dict:
    """Mean and standard deviation over a method's seeds."""
    out = {"seeds": [r["seed"] for r in rows], "iters": rows[0]["iters"]}
    for key in ("teacher_acc", "student_acc", "last_mean", "best_acc", "ratio", "seconds",
                "cpu_seconds"):
        out[key], out[key + "_sd"] = _mean_sd([r[key] for r in rows])
    return out


def time_to_reach(history: list[dict], accuracy: float, scale: float = 1.0) -> float | None:
    """Training seconds (times ``scale``) at the first evaluation at or above ``accuracy``
    (None: never)."""
    return next((h["seconds"] * scale for h in history if h["acc"] >= accuracy), None)


def cpu_scale(row: dict) -> float:
    """CPU seconds per training second of a run: its evaluations' wall times times this
    are CPU times, which another job on the machine does not stretch (the child's CPU
    seconds also count its start, so this errs on the slow side)."""
    return row["cpu_seconds"] / row["seconds"] if row["seconds"] else 1.0


def speed_lines(by_method: dict[str, list[dict]], summaries: dict[str, dict]) -> list[str]:
    """Fast-DFKD / NAYER against DeepInversion's final accuracy and time."""
    if "deepinversion" not in summaries:
        return ["- speed: no DeepInversion rows yet"]
    ref = summaries["deepinversion"]
    goal, limit = ref["student_acc"], ref["cpu_seconds"] / SPEED_FACTOR
    lines = [f"- speed (CPU minutes: each evaluation's time scaled by its run's CPU/wall "
             f"ratio): DeepInversion ends at {goal:.2f}% (mean of seeds) after "
             f"{ref['cpu_seconds'] / 60:.1f} CPU min; the target is that accuracy within "
             f"{limit / 60:.1f} CPU min (1/{SPEED_FACTOR})."]
    for method in SPEED_METHODS:
        if method not in summaries:
            continue
        s = summaries[method]
        reached = [time_to_reach(r["history"], goal, cpu_scale(r)) for r in by_method[method]]
        times = ", ".join("never" if t is None else f"{t / 60:.1f}" for t in reached)
        within = all(t is not None and t <= limit for t in reached)
        final_ok = s["student_acc"] >= goal and s["cpu_seconds"] <= limit
        lines.append(
            f"  - {method}: first evaluation at or above it per seed at {times} CPU min; final "
            f"{s['student_acc']:.2f}% after {s['cpu_seconds'] / 60:.1f} CPU min: "
            f"{'met' if within or final_ok else 'MISSED'} "
            f"({'by its final accuracy' if final_ok else 'along the run' if within else 'not within the time'})")
    return lines


def table_and_targets(results: dict) -> list[str]:
    """The per-method table (mean ± std over seeds) and the issue's three targets."""
    by_method: dict[str, list[dict]] = {}
    for row in sorted(results.get("rows", []), key=lambda r: r["seed"]):
        by_method.setdefault(row["method"], []).append(row)
    order = [m for m in METHODS if m in by_method] + [m for m in by_method if m not in METHODS]
    summaries = {m: method_summary(by_method[m]) for m in order}
    lines = ["| method | seeds | teacher | final | last 3 | × teacher | best | rounds | "
             "train min | CPU min |", "|---|---|---|---|---|---|---|---|---|---|"]
    for m in order:
        s = summaries[m]
        lines.append(
            f"| {m} | {len(s['seeds'])} | {s['teacher_acc']:.2f} | {s['student_acc']:.2f} ± "
            f"{s['student_acc_sd']:.2f} | {s['last_mean']:.2f} ± {s['last_mean_sd']:.2f} | "
            f"{s['ratio']:.3f} ± {s['ratio_sd']:.3f} | {s['best_acc']:.2f} | {s['iters']} | "
            f"{s['seconds'] / 60:.1f} | {s['cpu_seconds'] / 60:.1f} |")
    altered = [f"{r['method']}/{r['seed']}: {' '.join(r['overrides'])}"
               for m in order for r in by_method[m] if r.get("overrides")]
    if altered:
        lines += ["", "**Not the benchmark's settings** (config overrides): " + "; ".join(altered)]
    lines += ["", "Per run (final %, train minutes): " + "; ".join(
        f"{r['method']}/{r['seed']} {r['student_acc']:.2f} in {r['seconds'] / 60:.1f}"
        for m in order for r in by_method[m]), "", "Targets:", ""]
    if summaries:
        slowest = max(summaries, key=lambda m: max(r["cpu_seconds"] for r in by_method[m]))
        worst = max(r["cpu_seconds"] for r in by_method[slowest]) / 60
        lines.append(f"- each run within {BUDGET_MINUTES:.0f} CPU minutes: "
                     f"{'met' if worst <= BUDGET_MINUTES else 'MISSED'} (longest: {slowest}, "
                     f"{worst:.1f} CPU min)")
        lines += speed_lines(by_method, summaries)
        best = max(summaries, key=lambda m: summaries[m]["ratio"])
        ratio = summaries[best]["ratio"]
        lines.append(f"- best method ≥ {BEST_RATIO}× the teacher: "
                     f"{'met' if ratio >= BEST_RATIO else 'MISSED'} ({best}, {ratio:.3f}×)")
    return lines


PLOT = "bn_pair_accuracy.png"


def plot_runs(rows: list[dict], path: Path) -> str | None:
    """Student accuracy against CPU minutes, every run, one colour per method; None if
    written, else why not."""
    plt, why_not = pyplot()
    if plt is None:
        return why_not
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = {}
    for row in sorted(rows, key=lambda r: (r["method"], r["seed"])):
        scale = cpu_scale(row)
        colour = colours.setdefault(row["method"], f"C{len(colours)}")
        ax.plot([h["seconds"] * scale / 60 for h in row["history"]],
                [h["acc"] for h in row["history"]], color=colour, linewidth=1.1,
                label=row["method"] if row["seed"] == min(r["seed"] for r in rows
                                                          if r["method"] == row["method"])
                else None)
    ax.set_xlabel("CPU minutes (one torch thread)")
    ax.set_ylabel("student test accuracy (%)")
    ax.set_title(f"Data-free, {TEACHER} → lenet5_half, Fashion-MNIST (each seed a line)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None


def write_report(results: dict, out: Path, plot: bool = True) -> None:
    """bn_pair.json and bn_pair.md (with ``plot``, and matplotlib, the accuracy plot)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "bn_pair.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Data-free methods on the BatchNorm pair", "",
             f"Fashion-MNIST, {TEACHER} teacher -> lenet5_half student; seed s = teacher s and "
             "run s. Each run: one torch thread, two runs side by side on the 2-core machine. "
             f"Machine: {results.get('machine', '')}. Generated by "
             "`python tools/benchmark_bn_pair.py` on " + results.get("date", "") + ".", "",
             "Final = the run's last accuracy; last 3 = mean of its last three evaluations; "
             "best = highest evaluation (shown, not used to pick anything). Mean ± std over "
             "seeds; ratio = final / that seed's teacher.", ""]
    lines += table_and_targets(results)
    if plot and results.get("rows"):
        why_not = plot_runs(results["rows"], out / PLOT)
        lines += ["", f"![accuracy against CPU minutes]({PLOT})" if why_not is None
                  else f"(no plot: {why_not})"]
    (out / "bn_pair.md").write_text("\n".join(lines) + "\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side (1 thread each)")
    parser.add_argument("--runs", default="runs/bn_pair", help="folder of the training runs")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="config override for every run (for trials "
                        "and tests: rows measured so are not the benchmark's)")
    parser.add_argument("--rerun", action="store_true",
                        help="run the selected (method, seed) pairs again even if measured")
    parser.add_argument("--report-only", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs, out = Path(args.runs), Path(args.out)
    previous = out / "bn_pair.json"
    results = json.loads(previous.read_text()) if previous.exists() else {}
    results.setdefault("rows", [])
    done = {(r["method"], r["seed"]) for r in results["rows"]}
    todo = [(m, s) for s in args.seeds for m in args.methods
            if args.rerun or (m, s) not in done]
    if args.report_only:
        todo = []
    for seed in sorted({s for _, s in todo}):
        ensure_teacher(seed, args.data_root, runs)
    failed = False
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {}
        for method, seed in todo:
            if args.rerun:
                shutil.rmtree(runs / f"{method}-seed{seed}", ignore_errors=True)
            futures[pool.submit(run_one, method, seed, runs, args.data_root,
                                  tuple(args.overrides))] = (method, seed)
        for future in as_completed(futures):
            method, seed = futures[future]
            try:
                row = future.result()
            except RuntimeError as exc:
                print(f"error: {exc}", file=sys.stderr)
                failed = True
                continue
            results["rows"] = [r for r in results["rows"]
                               if (r["method"], r["seed"]) != (method, seed)] + [row]
            results["date"] = time.strftime("%Y-%m-%d")
            results["machine"] = machine_info(import_torch=False)
            write_report(results, out)
            print(f"[{method}/{seed}] final {row['student_acc']:.2f}% "
                  f"({row['seconds'] / 60:.1f} min)", flush=True)
    write_report(results, out)
    print((out / "bn_pair.md").read_text())
    return 1 if failed else 0

"""A pair's <stem>.md and <stem>.json: seed statistics, its targets, the accuracy plot."""
from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.plots import pyplot, save_figure

if TYPE_CHECKING:
    from benchmarks.pairs.pair import Pair

BUDGET_MINUTES = 15.0  # per run, CPU minutes (the issues' "runs to a result in 15 minutes")
NUMBER_WORDS = {3: "three", 5: "five"}


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


def points(difference: float) -> str:
    """'1.16 points above' / '14.42 points below' / 'level with' for a signed accuracy
    difference (rounded to the two decimals shown)."""
    if round(difference, 2) == 0:
        return "level with"
    return f"{abs(difference):.2f} points {'above' if difference > 0 else 'below'}"


def table_and_targets(results: dict, pair: Pair) -> list[str]:
    """The per-method table (mean ± std over seeds), the time budget and the pair's targets."""
    by_method: dict[str, list[dict]] = {}
    for row in sorted(results.get("rows", []), key=lambda r: r["seed"]):
        by_method.setdefault(row["method"], []).append(row)
    order = ([m for m in pair.methods if m in by_method]
             + [m for m in by_method if m not in pair.methods])
    summaries = {m: method_summary(by_method[m]) for m in order}
    lines = [f"| method | seeds | teacher | final | last {pair.last} | × teacher | best | rounds "
             "| train min | CPU min |", "|---|---|---|---|---|---|---|---|---|---|"]
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
        lines += pair.targets(by_method, summaries)
    return lines


def plot_runs(rows: list[dict], path: Path, teacher: str) -> str | None:
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
    ax.set_title(f"Data-free, {teacher} → lenet5_half, Fashion-MNIST (each seed a line)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(plt, fig, path)
    return None


def write_report(results: dict, out: Path, pair: Pair, plot: bool = True) -> None:
    """<stem>.json and <stem>.md (with ``plot``, and matplotlib, the accuracy plot)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{pair.stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    last = NUMBER_WORDS.get(pair.last, str(pair.last))
    lines = [f"# Data-free methods on {pair.title}", "",
             f"Fashion-MNIST, {pair.teacher} teacher -> lenet5_half student; seed s = teacher s "
             "and run s. Each run: one torch thread, two runs side by side on the 2-core machine. "
             f"Machine: {results.get('machine', '')}. Generated by "
             f"`python tools/benchmark_pair.py --pair {pair.name}` on "
             + results.get("date", "") + ".", "",
             f"Final = the run's last accuracy; last {pair.last} = mean of its last {last} "
             "evaluations; best = highest evaluation (shown, not used to pick anything). Mean ± "
             "std over seeds; ratio = final / that seed's teacher.", ""]
    lines += table_and_targets(results, pair)
    if plot and results.get("rows"):
        why_not = plot_runs(results["rows"], out / pair.plot, pair.teacher)
        lines += ["", f"![accuracy against CPU minutes]({pair.plot})" if why_not is None
                  else f"(no plot: {why_not})"]
    (out / f"{pair.stem}.md").write_text("\n".join(lines) + "\n")

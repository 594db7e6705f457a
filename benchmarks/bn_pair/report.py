"""bn_pair.md and bn_pair.json: seed statistics, the issue's targets, the accuracy plot."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from benchmarks.bn_pair.runs import TEACHER
from benchmarks.plots import pyplot

METHODS = ("deepinversion", "cmi", "fast_dfkd", "nayer", "dfq_float", "dfq_8bit", "dfq_4bit")
BUDGET_MINUTES = 15.0  # per run, CPU minutes (the "runs to a result in 15 minutes")
SPEED_FACTOR = 5  # Fast-DFKD / NAYER: DeepInversion's accuracy in a fifth of its time
SPEED_METHODS = ("fast_dfkd", "nayer")
BEST_RATIO = 0.92
QUANT_POINTS = 1.0  # issue 20: the 8-bit data-free student within 1 point of the float one


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
        lines += quantization_lines(summaries)
    return lines


def quantization_lines(summaries: dict[str, dict]) -> list[str]:
    """dfq's 8-bit student against its float one (issue 20), and the 4-bit one reported."""
    if "dfq_float" not in summaries or "dfq_8bit" not in summaries:
        return []
    ref, q8 = summaries["dfq_float"], summaries["dfq_8bit"]
    gap = ref["student_acc"] - q8["student_acc"]
    lines = [f"- dfq 8-bit student within {QUANT_POINTS:g} point of the float one: "
             f"{'met' if gap <= QUANT_POINTS else 'MISSED'} (8-bit {q8['student_acc']:.2f} ± "
             f"{q8['student_acc_sd']:.2f}, float {ref['student_acc']:.2f} ± "
             f"{ref['student_acc_sd']:.2f}: {points(-gap)} the float one)"]
    if "dfq_4bit" in summaries:
        q4 = summaries["dfq_4bit"]
        lines.append(f"  - dfq 4-bit (reported): {q4['student_acc']:.2f} ± "
                     f"{q4['student_acc_sd']:.2f} "
                     f"({points(q4['student_acc'] - ref['student_acc'])} the float one)")
    return lines


def points(difference: float) -> str:
    """'1.16 points above' / '14.42 points below' for a signed accuracy difference."""
    return f"{abs(difference):.2f} points {'above' if difference > 0 else 'below'}"


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

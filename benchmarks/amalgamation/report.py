"""amalgamation.md and amalgamation.json: seed statistics and the issue's target."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from benchmarks.amalgamation.runs import CONFIGS, HALVES, TEACHER

TARGET_RATIO = 0.85  # issue 20: the student >= 0.85x the two teachers' ensemble
BUDGET_MINUTES = 15.0  # ... without data, within 15 CPU minutes
TITLES = {"amalgamation": "`amalgamation`: group-stack dual-GAN (Ye et al. CVPR 2020, "
                          "reconstructed; configs/amalgamation/fashion_mnist.yaml: stage 1 "
                          "500 iterations, the student's blocks 1-3 100 each, the last block "
                          "from iteration 800 to the end)",
          "dafl": "`dafl` on the two teachers' ensemble (a baseline: DAFL's game with the "
                  "ensemble as its teacher; configs/dafl/fashion_mnist_half_teachers.yaml)"}


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def last_mean(row: dict, count: int = 3) -> float:
    """The mean accuracy of the run's last ``count`` evaluations (the final one included)."""
    accs = [h["acc"] for h in row.get("history", []) if h.get("acc") is not None][-count:]
    return statistics.mean(accs) if accs else row["student_acc"]


def summary(rows: list[dict]) -> dict:
    """Mean and standard deviation over the seeds."""
    out = {"seeds": [r["seed"] for r in rows]}
    rows = [{**r, "last_mean": last_mean(r)} for r in rows]
    for key in ("ensemble_acc", "student_acc", "last_mean", "best_acc", "ratio", "seconds",
                "cpu_seconds"):
        out[key], out[key + "_sd"] = _mean_sd([r[key] for r in rows])
    return out


def table_and_target(rows: list[dict]) -> list[str]:
    """One method's rows: the table, mean ± std, and the target's lines."""
    rows = sorted(rows, key=lambda r: r["seed"])
    lines = ["| seed | teachers (own half) | ensemble | student (final) | last 3 evals | "
             "× ensemble | best (test-picked) | iters | CPU min | teachers' CPU min |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        own = r.get("teacher_accs", {})
        halves = ", ".join(f"{h}: {own[h]:.2f}" for h in HALVES if own.get(h) is not None)
        teachers = sum(r.get("teacher_cpu_seconds", {}).values()) / 60
        lines.append(f"| {r['seed']} | {halves or '?'} | {r['ensemble_acc']:.2f} | "
                     f"{r['student_acc']:.2f} | {last_mean(r):.2f} | {r['ratio']:.3f} | "
                     f"{r['best_acc']:.2f} | "
                     f"{r['iters']} | {r['cpu_seconds'] / 60:.1f} | "
                     f"{teachers:.1f} |")
    if not rows:
        return lines + ["", "No runs yet."]
    s = summary(rows)
    lines.append(f"| mean ± std | | {s['ensemble_acc']:.2f} ± {s['ensemble_acc_sd']:.2f} | "
                 f"{s['student_acc']:.2f} ± {s['student_acc_sd']:.2f} | "
                 f"{s['last_mean']:.2f} ± {s['last_mean_sd']:.2f} | {s['ratio']:.3f} ± "
                 f"{s['ratio_sd']:.3f} | | | {s['cpu_seconds'] / 60:.1f} | |")
    altered = [f"seed {r['seed']}: {' '.join(r['overrides'])}" for r in rows if r.get("overrides")]
    if altered:
        lines += ["", "**Not the benchmark's settings** (config overrides): " + "; ".join(altered)]
    worst = max(r["cpu_seconds"] for r in rows) / 60
    ratio_met = all(r["ratio"] >= TARGET_RATIO for r in rows)
    lines += ["", "Target (issue 20), this method:", "",
              f"- student ≥ {TARGET_RATIO}× the ensemble on all ten classes: "
              f"{'met' if ratio_met else 'MISSED'} (mean {s['ratio']:.3f} ± {s['ratio_sd']:.3f}; "
              f"lowest seed {min(r['ratio'] for r in rows):.3f})",
              f"- each run within {BUDGET_MINUTES:.0f} CPU minutes: "
              f"{'met' if worst <= BUDGET_MINUTES else 'MISSED'} (longest {worst:.1f})"]
    return lines


def method_sections(results: dict, heading: str) -> list[str]:
    """A ``heading`` title, the table and the target of each method that has rows."""
    rows, lines = results.get("rows", []), []
    methods = [m for m in CONFIGS if any(r.get("method", "amalgamation") == m for r in rows)]
    for method in methods or list(CONFIGS)[:1]:
        lines += [f"{heading} {TITLES[method]}", ""]
        lines += table_and_target([r for r in rows
                                   if r.get("method", "amalgamation") == method]) + [""]
    return lines


def write_report(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "amalgamation.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Data-free knowledge amalgamation", "",
             f"Fashion-MNIST; two {TEACHER} teachers of classes {' and '.join(HALVES)} "
             f"(each 5-way) -> one {TEACHER} student of all ten classes, without data "
             "(rows by method below). "
             "Ensemble = each test image given to the more confident teacher (largest softmax "
             "probability), its class mapped into its range: the reference of the target. "
             "CPU min = the run's child user + sys time (one torch thread); the "
             f"teachers' is apart. Machine: {results.get('machine', '')}. Generated by "
             "`python tools/benchmark_amalgamation.py` on " + results.get("date", "") + ".", ""]
    lines += method_sections(results, "##")
    (out / "amalgamation.md").write_text("\n".join(lines) + "\n")

"""results.md and results.json of the data-free benchmark: the table, each row's overrides
and accuracy history, the targets, memory, forgetting and loop-overhead sections."""
from __future__ import annotations

import json
from pathlib import Path

from benchmarks import OUT
from benchmarks.data_free.forgetting import forgetting_lines
from benchmarks.data_free.memory import MEMORY_TOLERANCE_FRACTION, MEMORY_TOLERANCE_MB
from benchmarks.data_free.variants import row_key

TARGET_RATIO, BEST_RATIO, STRETCH_RATIO = 0.85, 0.92, 0.97
#: (method, its baseline, label): "label: yes/no (accuracies; budget)" when both rows ran
COMPARISONS = (("mad", "dfad", "MAD >= DFAD"),
               ("dual_generator", "dafl", "dual-generator >= DAFL"))


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
    """The issue's targets: ratio floors, the best ratio, each method of
    :data:`COMPARISONS` against its baseline (MAD against DFAD, ...)."""
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
    for method, baseline, label in COMPARISONS:
        if method not in by_name or baseline not in by_name:
            continue
        ours, theirs = by_name[method], by_name[baseline]
        verdict = "yes" if ours["student_acc"] >= theirs["student_acc"] else "no"
        budget = ("same budget" if ours["iters"] == theirs["iters"] else
                  f"budgets differ: {ours['iters']} vs {theirs['iters']} iterations")
        lines.append(f"- {label}: {verdict} ({ours['student_acc']:.2f} vs "
                     f"{theirs['student_acc']:.2f}; {budget})")
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

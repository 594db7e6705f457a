"""``benchmarks/README.md``: one page from every benchmark's JSON, with plots.

    python tools/benchmark_report.py            # after any of make bench / bench-losses /
                                                # bench-gan / bench-joint / bench-ddp (they
                                                # all call it)

Reads what exists of ``benchmarks/results.json`` (data-free methods, ``tools/benchmark.py``),
``bn_pair.json`` and ``lenet5_pair.json`` (data-free methods on the BatchNorm pair and on the
embedded default pair, ``tools/benchmark_pair.py``),
``amalgamation.json`` (two half-teachers amalgamated, ``tools/benchmark_amalgamation.py``),
``losses.json`` (knowledge-form losses), ``gan_compression.json``, ``joint.json`` and
``distributed.json``, and
writes the summary tables and two plots: student accuracy against training time per
data-free method (``accuracy_vs_time.png``) and FID against generator MACs for every GAN
benchmark (``macs_vs_fid.png``). Plots need matplotlib (``pip install -e '.[bench]'``);
without it the page says so and keeps the tables.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks import OUT
from benchmarks.plots import pyplot, save_figure

MARKERS = {"teacher": "s", "student": "o", "joint": "o", "scratch": "X", "aguinaldo": "^",
           "gan_compression": "o", "omgd": "D", "dcd": "v", "portable_gan": "P", "ackd": "*"}


def load(folder: Path) -> dict:
    """The benchmark JSON files found in ``folder``, by name."""
    found = {}
    for name in ("results", "bn_pair", "lenet5_pair", "amalgamation", "losses",
                 "gan_compression", "joint", "distributed"):
        path = folder / f"{name}.json"
        if path.exists():
            found[name] = json.loads(path.read_text())
    return found


def accuracy_series(results: dict) -> dict[str, list[tuple[float, float]]]:
    """variant -> [(minutes, student accuracy)] along each data-free run."""
    return {row["variant"]: [(h["seconds"] / 60, h["acc"]) for h in row.get("history", [])]
            for row in results.get("methods", []) if "student_acc" in row}


def gan_points(data: dict) -> dict[str, list[tuple[str, float, float]]]:
    """benchmark -> [(model, generator MACs, FID)] for the GAN tables (the GAN benchmark's
    rows are means over its seeds)."""
    points = {}
    for task, result in data.get("gan_compression", {}).get("tasks", {}).items():
        points[task] = [(model, row["macs_task"], row["fid"]) for model, row
                        in result["rows"].items() if "macs_task" in row and "fid" in row]
    joint = data.get("joint", {}).get("gan")
    if joint:
        points["dcgan"] = [(model, row["macs"], row["fid"]) for model, row in joint["rows"].items()]
    return points


def gan_spread(data: dict) -> dict[str, dict[str, float]]:
    """benchmark -> {model: FID standard deviation over seeds} where a row has one."""
    return {task: {model: row["fid_sd"] for model, row in result["rows"].items()
                   if "fid_sd" in row and len(row.get("seeds", [])) > 1}
            for task, result in data.get("gan_compression", {}).get("tasks", {}).items()}


def plot_accuracy(series: dict, teacher: float | None, path: Path) -> str | None:
    plt, why = pyplot()
    if plt is None:
        return why
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, points in series.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], label=name, linewidth=1.2)
    if teacher:
        ax.axhline(teacher, color="black", linestyle="--", linewidth=1, label="teacher")
    ax.set_xlabel("training time (minutes, 2 CPU cores)")
    ax.set_ylabel("student test accuracy (%)")
    ax.set_title("Data-free distillation, LeNet-5 → LeNet-5-half, Fashion-MNIST")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    save_figure(plt, fig, path)
    return None


def plot_gan(points: dict, path: Path, spread: dict | None = None) -> str | None:
    """FID against generator MACs, one panel per benchmark, one colour per row (the same in
    every panel; rows of equal MACs drawn 5% apart), error bars where ``spread`` gives a
    standard deviation over seeds."""
    plt, why = pyplot()
    if plt is None:
        return why
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    spread = spread or {}
    colours: dict[str, str] = {}
    fig, axes = plt.subplots(1, len(points), figsize=(4.6 * len(points), 4.2), squeeze=False)
    for ax, (task, rows) in zip(axes[0], points.items()):
        seen: dict[float, int] = {}
        for model, macs, fid in rows:
            colour = colours.setdefault(model, f"C{len(colours) % 10}")
            sd = spread.get(task, {}).get(model)
            shift = 1.05 ** seen.setdefault(macs, 0)  # rows of equal MACs side by side
            seen[macs] += 1
            ax.errorbar(macs / 1e6 * shift, fid, yerr=sd, fmt=MARKERS.get(model, "o"), color=colour,
                        markersize=7, capsize=3, label=model, alpha=0.85)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.margins(x=0.3, y=0.15)
        ax.set_xlabel("generator M MACs per image (log)")
        ax.set_ylabel("FID (LeNet-5 features)")
        ax.set_title(task)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(plt, fig, path)
    return None


def image_or_note(name: str, why: str | None) -> list[str]:
    return [f"![{name}]({name})" if why is None else f"(no {name}: {why})", ""]


def data_free_lines(results: dict, out: Path, plots: bool) -> list[str]:
    rows = [r for r in results.get("methods", []) if "student_acc" in r]
    lines = ["## Data-free distillation (`make bench`, details: results.md)", "",
             "| variant | student acc | × teacher | best acc | iters | minutes |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['student_acc']:.2f} | {r['ratio']:.3f} | "
                     f"{r['best_student_acc']:.2f} | {r['iters']} | {r['seconds'] / 60:.1f} |")
    lines.append("")
    if plots and rows:
        why = plot_accuracy(accuracy_series(results), rows[0].get("teacher_acc"),
                            out / "accuracy_vs_time.png")
        lines += image_or_note("accuracy_vs_time.png", why)
    return lines


def pair_lines(data: dict) -> list[str]:
    """The pair benchmarks whose JSON is there (``benchmarks.pairs``), the BatchNorm one first."""
    from benchmarks.pairs.pair import PAIRS
    from benchmarks.pairs.report import table_and_targets

    return [line for pair in PAIRS.values() if pair.stem in data for line in (
        f"## Data-free methods on {pair.title}, 3 seeds (`make bench`, details: {pair.stem}.md)",
        "", *table_and_targets(data[pair.stem], pair), "")]


def amalgamation_lines(results: dict) -> list[str]:
    from benchmarks.amalgamation.report import method_sections

    return ["## Data-free amalgamation of two half-teachers (`make bench`, details: "
            "amalgamation.md)", "", *method_sections(results, "###")]


def losses_lines(losses: dict) -> list[str]:
    lines = ["## Knowledge-form losses with real data (`make bench-losses`, details: losses.md)",
             "", "| pair | loss | student acc | seeds |", "|---|---|---|---|"]
    for r in losses.get("rows", []):
        if "student_acc" in r:
            spread = f" ± {r['student_acc_sd']:.2f}" if len(r["seeds"]) > 1 else ""
            lines.append(f"| {r['pair']} | {r['row']} | {r['student_acc']:.2f}{spread} | "
                         f"{len(r['seeds'])} |")
    return lines + [""]


def gan_lines(data: dict, out: Path, plots: bool) -> list[str]:
    points, spread = gan_points(data), gan_spread(data)
    lines = ["## GAN compression and joint G+D distillation (`make bench-gan`, `make bench-joint`;"
             " details: gan_compression.md, joint.md)", "",
             "| benchmark | model | M MACs | FID |", "|---|---|---|---|"]
    for task, rows in points.items():
        for model, macs, fid in rows:
            sd = spread.get(task, {}).get(model)
            fid_text = f"{fid:.2f}" + ("" if sd is None else f" ± {sd:.2f}")
            lines.append(f"| {task} | {model} | {macs / 1e6:.1f} | {fid_text} |")
    lines.append("")
    tasks = data.get("gan_compression", {}).get("tasks", {})
    for task, result in tasks.items():
        grid = f"gan_compression_{task}.png"
        if "target" in result:
            lines.append(f"- {task}, issue 19's target: {result['target']['text']}")
        if (out / grid).exists():
            lines.append(f"- {task} samples (input, teacher, each student): ![{grid}]({grid})")
    lines += [""] * bool(tasks)
    if plots and points:
        lines += image_or_note("macs_vs_fid.png",
                               plot_gan(points, out / "macs_vs_fid.png", spread))
    return lines


def kd_lines(joint: dict) -> list[str]:
    lines = ["## Adversarial student KD (`make bench-joint`, details: joint.md)", "",
             "| row | student acc |", "|---|---|"]
    for r in joint.get("kd", []):
        spread = f" ± {r['acc_sd']:.2f}" if len(r["seeds"]) > 1 else ""
        lines.append(f"| {r['row']} | {r['acc']:.2f}{spread} |")
    return lines + [""]


def distributed_lines(results: dict) -> list[str]:
    lines = ["## One process vs two (`make bench-ddp`, details: distributed.md)", "",
             "| workload | throughput ratio (2 processes / 1) | accuracy 1 / 2 processes |",
             "|---|---|---|"]
    for name, r in results.get("workloads", {}).items():
        lines.append(f"| {name} | {r['1']['seconds'] / r['2']['seconds']:.2f}× | "
                     f"{r['1']['acc']:.2f} / {r['2']['acc']:.2f} |")
    return lines + [""]


def write_report(out: Path = OUT, plots: bool = True) -> Path:
    data = load(out)
    lines = ["# Benchmarks", "",
             "Generated by `python tools/benchmark_report.py` from the JSON files here; each "
             "section names the command that measures it and the page with its details. "
             "All runs on 2 CPU cores.", ""]
    if "results" in data:
        lines += data_free_lines(data["results"], out, plots)
    lines += pair_lines(data)
    if "amalgamation" in data:
        lines += amalgamation_lines(data["amalgamation"])
    if "losses" in data:
        lines += losses_lines(data["losses"])
    if "gan_compression" in data or "gan" in data.get("joint", {}):
        lines += gan_lines(data, out, plots)
    if data.get("joint", {}).get("kd"):
        lines += kd_lines(data["joint"])
    if "distributed" in data:
        lines += distributed_lines(data["distributed"])
    if len(lines) == 4:
        lines.append("No benchmark has been run yet: see the Makefile's bench targets.")
    path = out / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(OUT), help="folder of the benchmark JSON files")
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args(argv)
    print(f"wrote {write_report(Path(args.out), not args.no_plots)}")
    return 0


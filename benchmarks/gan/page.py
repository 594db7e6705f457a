"""gan_compression.json and .md: per task, one table row per teacher / scratch / method
(mean ± std over seeds), each row's budget note, the per-seed FIDs and the target line."""
from __future__ import annotations

import json
from pathlib import Path

from benchmarks.gan.plan import METHODS, row_order
from benchmarks.gan.samples import grid_name
from benchmarks.gan.summary import (
    compression_target,
    overall,
    pm,
    summarize,
    target,
    with_minutes,
)

ORDER = row_order()
REAL = "real (train split)"
HEADER = ("| row | seeds | ngf | params | MMACs {s}² | GMACs 256² | latency {s}² (ms) | "
          "latency 256² (ms) | PSNR / SSIM to teacher | PSNR / SSIM to GT | FID | iters | "
          "CPU min |")


def task_result(task_info: dict, runs: list[dict]) -> dict:
    """A task's entry of the JSON: its info, rows (summaries; the 'real' row first, as
    benchmarks/report.py reads it) and target."""
    rows = summarize(runs, ORDER)
    latency = task_info.get("latency", {})
    for summary in rows.values():
        lat = latency.get(summary.get("arch"))
        if lat:
            summary["latency_ms_task"], summary["latency_ms_256"] = lat["task"], lat["256"]
    return {**task_info, "rows": {REAL: {"fid": task_info["real_fid"]}, **rows},
            "target": target(rows), "compression": compression_target(rows, METHODS[0][0])}


def _pair(s: dict, key: str) -> str:
    if f"psnr_{key}" not in s:
        return "n/a" if key == "gt" else ""
    return f"{pm(s, f'psnr_{key}', '.2f')} / {pm(s, f'ssim_{key}', '.3f')}"


def _fmt(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def table_lines(key: str, result: dict) -> list[str]:
    size = result["size"]
    lines = [f"### {key}: {result['task']} ({result['images']} test images, {size}×{size})",
             "", HEADER.format(s=size), "|" + "---|" * 13,
             f"| {REAL} | | | | | | | | | | {result['rows'][REAL]['fid']:.2f} | | |"]
    notes = []
    for name, s in result["rows"].items():
        if name == REAL:
            continue
        iters = f"{s['iters']:.0f}" if "iters" in s else ""
        if s.get("note"):
            notes.append(f"- {name}: {s['note']}")
            if s.get("config_iters") != s.get("iters"):
                iters += f" (config {s['config_iters']})"
            iters += "¹"
        cpu = pm(with_minutes(s), "cpu_min", ".1f") if "cpu_seconds" in s else ""
        lines.append(
            f"| {name} | {len(s['seeds'])} | {s['ngf']} | {s['params']:,} | "
            f"{s['macs_task'] / 1e6:.1f} | {s['macs_256'] / 1e9:.2f} | "
            f"{_fmt(s.get('latency_ms_task'), '.2f')} | {_fmt(s.get('latency_ms_256'), '.1f')} | "
            f"{_pair(s, 'teacher')} | {_pair(s, 'gt')} | {pm(s, 'fid', '.2f')} | {iters} | "
            f"{cpu} |")
    lines.append("")
    if notes:
        lines += ["¹ The length chosen here:", "", *notes, ""]
    lines += ["- target (issue 19): " + result["target"]["text"],
              *(f"- {line}" for line in result.get("compression", [])), ""]
    return lines


def per_seed_lines(runs: list[dict]) -> list[str]:
    by_row: dict[str, list[str]] = {}
    for r in sorted(runs, key=lambda r: (ORDER.index(r["row"]) if r["row"] in ORDER else 99,
                                         r["seed"])):
        by_row.setdefault(r["row"], []).append(f"{r['fid']:.2f} (seed {r['seed']})"
                                               if "fid" in r else f"- (seed {r['seed']})")
    return ["FID per run: " + "; ".join(f"{row} {', '.join(v)}" for row, v in by_row.items()), ""]


def teacher_lines(runs: list[dict]) -> list[str]:
    """Students (of one task) distilled from another file than its teacher row measures (a
    teacher retrained after its run folder was lost, and not bit for bit the same)."""
    sha = next((r.get("sha") for r in runs if r["row"] == "teacher"), None)
    odd = [f"{r['row']}/seed {r['seed']}" for r in runs if r.get("teacher_sha") and sha
           and r["teacher_sha"] != sha]
    return [f"Distilled from an earlier copy of the task's teacher, which was retrained since "
            f"and differs from the measured one: {', '.join(odd)}", ""] if odd else []


def write_page(results: dict, out: Path) -> None:
    """gan_compression.json (``results``: runs, tasks' info) and gan_compression.md."""
    out.mkdir(parents=True, exist_ok=True)
    tasks = {}
    for key, info in results.get("task_info", {}).items():
        runs = [r for r in results["runs"] if r["task"] == key]
        if runs:
            tasks[key] = task_result(info, runs)
    results["tasks"] = tasks
    (out / "gan_compression.json").write_text(json.dumps(results, indent=2) + "\n")
    first = next(iter(tasks.values()), None)
    s = results.get("settings", {})
    lines = ["# Generator distillation (GAN compression) benchmark", ""]
    if s.get("quick"):
        lines += ["**--quick smoke run: 2 iterations of tiny networks, not the benchmark.**", ""]
    lines += [
        f"Machine: {results.get('machine', '')}. Generated by `python tools/benchmark_gan.py` "
        f"on {results.get('date', '')}. Each run: its tool in a child process on one torch "
        f"thread, {s.get('jobs', 2)} side by side. Rows: one teacher per task "
        "(`tools/train_gan.py`, configs/gan/, seed 0), scratch (the first method's student "
        "width, no teacher, for about that student's CPU time) and each method "
        "(`tools/compress_gan.py --config configs/<method>/<task>.yaml` from the task's "
        "teacher); seed s is the student's seed. Mean ± sample std over the students' seeds.",
        f"FID features: {first['fid_features'] if first else ''} (no Inception weights can "
        "be had here). Each FID "
        "compares a model's outputs for the test inputs with the real test targets; the "
        "'real' row is as many real training images against the same targets.",
        f"Latency: CPU, batch 1, {s.get('threads', 1)} torch thread(s), median of "
        f"{s.get('rounds', '')} rounds in which each architecture of the task is timed in "
        "turn in one process (rows of one architecture share it). CPU min: the training "
        "loop's CPU time, summed over resumed parts (the child's CPU time for runs trained "
        "before the loop counted it, 2026-12-08).", ""]
    targets = {}
    for key, result in tasks.items():
        lines += table_lines(key, result)
        mine = [r for r in results["runs"] if r["task"] == key]
        lines += per_seed_lines(mine) + teacher_lines(mine)
        lines += [f"![samples]({grid_name(key)})  ", "Rows, top to bottom: input, "
                  + ("target, " if key == "pix2pix" else "") + "teacher, scratch, each method's "
                  "student (the lowest seed), on the first test inputs.", ""]
        targets[key] = result["target"]
    lines += [overall(targets), "", "FID against MACs, every row: macs_vs_fid.png "
              "(`python tools/benchmark_report.py`, README.md).", ""]
    skipped = results.get("skipped", [])
    if skipped:
        lines += ["Not run: " + "; ".join(skipped), ""]
    (out / "gan_compression.md").write_text("\n".join(lines) + "\n")

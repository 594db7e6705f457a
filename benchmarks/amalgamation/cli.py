"""``main`` of the amalgamation benchmark (``tools/benchmark_amalgamation.py``): the missing
(method, seed) runs one after another (each run one thread), amalgamation.json and .md after
each."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from benchmarks import add_rerun_args
from benchmarks.amalgamation.report import write_report
from benchmarks.amalgamation.runs import (
    CONFIGS,
    SEEDS,
    run_folder,
    run_seed,
    teacher_accuracies,
)
from benchmarks.machine import machine_info


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--methods", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--runs", default="runs/amalgamation", help="folder of the runs")
    add_rerun_args(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = "1"  # the children: one thread each (teachers included)
    runs, out = Path(args.runs), Path(args.out)
    previous = out / "amalgamation.json"
    results = json.loads(previous.read_text()) if previous.exists() else {}
    results.setdefault("rows", [])
    for row in results["rows"]:  # rows of before the dafl baseline were amalgamation's
        row.setdefault("method", "amalgamation")
    done = {(r["method"], r["seed"]) for r in results["rows"]}
    todo = [] if args.report_only else [(m, s) for m in args.methods for s in args.seeds
                                        if args.rerun or (m, s) not in done]
    failed = False
    for method, seed in todo:
        if args.rerun:
            shutil.rmtree(run_folder(runs, method, seed), ignore_errors=True)
        try:
            row = run_seed(seed, runs, args.data_root, tuple(args.overrides), method)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed = True
            continue
        row["teacher_accs"] = teacher_accuracies(seed)
        results["rows"] = [r for r in results["rows"]
                           if (r["method"], r["seed"]) != (method, seed)] + [row]
        results["date"] = time.strftime("%Y-%m-%d")
        results["machine"] = machine_info(import_torch=False)
        write_report(results, out)
        print(f"[{method}/{seed}] student {row['student_acc']:.2f}%, ensemble "
              f"{row['ensemble_acc']:.2f}% ({row['ratio']:.3f}x), "
              f"{row['cpu_seconds'] / 60:.1f} CPU min", flush=True)
    write_report(results, out)
    print((out / "amalgamation.md").read_text())
    return 1 if failed else 0

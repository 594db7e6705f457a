"""``main`` of the pair benchmark (``tools/benchmark_pair.py --pair NAME``): the pair's
missing runs, two side by side, its <stem>.json and .md rewritten after each."""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from benchmarks import add_rerun_args
from benchmarks.machine import machine_info
from benchmarks.pairs.pair import PAIRS
from benchmarks.pairs.report import write_report
from benchmarks.pairs.runs import SEEDS, ensure_teacher, run_one


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pair", required=True, choices=sorted(PAIRS),
                        help="lenet5_bn: the BatchNorm pair; lenet5: the embedded default")
    parser.add_argument("--methods", nargs="+", default=None, help="default: the pair's")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side (1 thread each)")
    parser.add_argument("--runs", default=None, help="folder of the training runs "
                        "(default runs/<stem>: runs/bn_pair, runs/lenet5_pair)")
    add_rerun_args(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pair = PAIRS[args.pair]
    runs, out = Path(args.runs or pair.runs), Path(args.out)
    previous = out / f"{pair.stem}.json"
    results = json.loads(previous.read_text()) if previous.exists() else {}
    results.setdefault("rows", [])
    done = {(r["method"], r["seed"]) for r in results["rows"]}
    todo = [(m, s) for s in args.seeds for m in args.methods or pair.methods
            if args.rerun or (m, s) not in done]
    if args.report_only:
        todo = []
    for seed in sorted({s for _, s in todo}):
        ensure_teacher(pair, seed, args.data_root, runs)
    failed = False
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {}
        for method, seed in todo:
            if args.rerun:
                shutil.rmtree(runs / f"{method}-seed{seed}", ignore_errors=True)
            futures[pool.submit(run_one, pair, method, seed, runs, args.data_root,
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
            write_report(results, out, pair)
            print(f"[{method}/{seed}] final {row['student_acc']:.2f}% "
                  f"({row['seconds'] / 60:.1f} min)", flush=True)
    write_report(results, out, pair)
    print((out / f"{pair.stem}.md").read_text())
    return 1 if failed else 0

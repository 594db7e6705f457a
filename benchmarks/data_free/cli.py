"""``main`` of the data-free benchmark (``tools/benchmark.py``): the variants' rows, then the
memory run and the loop overhead, results.md rewritten after each."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import benchmarks.data_free
from benchmarks import OUT
from benchmarks.data_free.memory import memory_check
from benchmarks.data_free.overhead import loop_overhead
from benchmarks.data_free.report import write_report
from benchmarks.data_free.runs import ensure_teacher, passthrough_flags, run_variant
from benchmarks.data_free.variants import (
    BenchmarkError,
    default_variants,
    resolve_variants,
    row_key,
    row_order,
)
from benchmarks.machine import machine_info


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=benchmarks.data_free.__doc__,
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


"""``main`` of the GAN benchmark (``tools/benchmark_gan.py``): the missing runs, each
measured as it finishes, gan_compression.json and .md rewritten after each; then the
latencies and the sample grids."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from benchmarks import OUT
from benchmarks.gan.plan import METHODS, SEEDS, TASKS, Run, plan, plan_run
from benchmarks.gan.runs import cpu_seconds, done, ledger, run_all, train_metrics
from benchmarks.machine import machine_info


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    import benchmarks.gan as package

    parser = argparse.ArgumentParser(description=package.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--methods", nargs="+", default=None, metavar="METHOD",
                        help=f"default: every registered one of {', '.join(m for m, _ in METHODS)}")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side (1 thread each)")
    parser.add_argument("--runs", default=None, help="folder of the training runs "
                        "(default runs/gan_bench, with --quick runs/gan_bench_quick)")
    parser.add_argument("--out", default=None, help="folder of gan_compression.json/.md "
                        "(default benchmarks/, with --quick runs/gan_bench_quick/report)")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--quick", action="store_true", help="smoke test: 2 iterations of "
                        "tiny networks per run, few test images, one latency round")
    parser.add_argument("--measure-only", action="store_true", help="train nothing")
    parser.add_argument("--remeasure", action="store_true",
                        help="measure every finished run again (e.g. with other --images)")
    parser.add_argument("--stop-after", type=float, default=None, metavar="MINUTES",
                        help="start no run after this many minutes (a session's part)")
    parser.add_argument("--images", type=int, default=None, help="test images (2000; quick 32)")
    parser.add_argument("--rounds", type=int, default=None, help="latency rounds (5; quick 1)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs a round (20; quick 2)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads when measuring")
    parser.add_argument("--fid-ckpt", default="", help="LeNet-5 weights for FID (default: "
                        "the cached Fashion-MNIST one, trained first when missing)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.runs = Path(args.runs or ("runs/gan_bench_quick" if quick else "runs/gan_bench"))
    args.out = Path(args.out or ("runs/gan_bench_quick/report" if quick else OUT))
    for name, full, small in (("images", 2000, 32), ("rounds", 5, 1), ("repeats", 20, 2)):
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    return args


def choose_methods(asked: list[str] | None) -> tuple[list[str], list[str]]:
    """The method rows to run and notes on listed methods left out (not registered in
    dfkd.generator_distillation.METHODS yet)."""
    from dfkd.generator_distillation import METHODS as REGISTERED

    listed = [m for m, _ in METHODS]
    known = set(REGISTERED.names())
    if asked is None:
        return ([m for m in listed if m in known],
                [f"{m}: not registered in dfkd.generator_distillation.METHODS"
                 for m in listed if m not in known])
    bad = [m for m in asked if m not in listed or m not in known]
    if bad:
        raise SystemExit(f"error: --methods {' '.join(bad)}: rows exist for "
                         f"{', '.join(m for m in listed if m in known)} (registered and listed in "
                         "benchmarks/gan/plan.py METHODS)")
    return list(asked), []


def load_previous(out: Path, quick: bool, images: int, remeasure: bool) -> dict:
    """The JSON of earlier parts (its rows are kept), checked to be measured alike."""
    path = out / "gan_compression.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    if "runs" not in previous:  # none, or the one-seed format before issue 19
        return {"runs": [], "task_info": {}}
    settings = previous.get("settings", {})
    if settings.get("quick", False) != quick:
        raise SystemExit(f"error: {path} holds {'quick' if not quick else 'full'} results: "
                         "pass another --out")
    if settings.get("images", images) != images and not remeasure:
        raise SystemExit(f"error: {path} was measured on {settings['images']} test images: pass "
                         f"--images {settings['images']}, or --remeasure (every run on disk)")
    return previous


def stamp(run: Run) -> float:
    return (run.folder / "metrics.json").stat().st_mtime


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    methods, skipped = choose_methods(args.methods)
    results = load_previous(args.out, args.quick, args.images, args.remeasure)
    results["settings"] = {"quick": args.quick, "jobs": args.jobs, "threads": args.threads,
                           "images": args.images, "rounds": args.rounds}
    results["skipped"] = skipped
    from benchmarks.gan.measure import Measurer

    measurer = Measurer(args.data_root, args.images, args.fid_ckpt, args.threads)
    measurer.features()  # trained here when missing, not by several children at once
    runs = select(plan(args.runs, args.tasks, methods, args.seeds, args.quick, args.data_root),
                  results)

    def on_done(run: Run, spent: dict) -> None:
        old = [r for r in results["runs"] if key(r) == key(run)]
        if old and old[0].get("trained_at") == stamp(run) and not args.remeasure:
            old[0].update({"cpu_seconds": round(cpu_seconds(run, spent), 1),
                           "parts": spent["parts"]})
        else:
            row = {**measurer.measure(run), **train_metrics(run),
                   "config_iters": run.config_iters, "note": run.note,
                   "cpu_seconds": round(cpu_seconds(run, spent), 1), "parts": spent["parts"],
                   "trained_at": stamp(run)}
            results["runs"] = [r for r in results["runs"] if key(r) != key(run)] + [row]
            info = {k: v for k, v in measurer.task(run.task).items()
                    if k in ("task", "images", "size", "fid_features", "real_fid")}
            previous = results["task_info"].get(run.task, {})
            results["task_info"][run.task] = {**info, "latency": previous.get("latency", {})}
            print(f"[{run.name}] FID {row.get('fid', float('nan')):.2f}, "
                  f"{row['cpu_seconds'] / 60:.1f} CPU min", flush=True)
        finish(results, args.out)

    if args.measure_only:
        errors = []
        for run in runs:
            if done(run):
                on_done(run, ledger(run.folder))
    else:
        errors = run_all(runs, args.jobs, on_done, args.stop_after)
    measure_latencies(results, args, measurer)
    from benchmarks.gan.samples import save_samples

    for task in args.tasks:
        grid = grid_runs(results, args, task)
        if grid:
            save_samples(task, grid, measurer, args.out)
    finish(results, args.out)
    print((args.out / "gan_compression.md").read_text())
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if errors else 0


def key(run) -> tuple:
    return (run.task, run.row, run.seed) if isinstance(run, Run) else (
        run["task"], run["row"], run["seed"])


def select(planned: list[Run], results: dict) -> list[Run]:
    """The planned runs to hand to ``run_all``: a run measured before (its row in the JSON)
    whose folder is gone (a new session's work tree) is not trained again (one whose folder
    holds a cut run is resumed); its task's teacher is, when a student of that task still
    has to train."""
    measured = {key(r) for r in results["runs"]}
    keep = [r for r in planned if key(r) not in measured or done(r)
            or (r.folder / "latest.pt").exists()]
    gone = [r.name for r in planned if r not in keep]
    students = {r.task for r in keep if r.row != "teacher" and not done(r)}
    keep = [r for r in planned if r in keep or (r.row == "teacher" and r.task in students)]
    if gone:
        print(f"{len(gone)} runs measured before and no longer on disk, kept from the JSON: "
              f"{', '.join(gone)}", flush=True)
    return keep


def grid_runs(results: dict, args, task: str) -> list[Run]:
    """The teacher and the students of the task's lowest measured seed for its sample grid,
    when every one of them is on disk (else the grid already written stays)."""
    rows = [r for r in results["runs"] if r["task"] == task]
    if not rows:
        return []
    seed = min((r["seed"] for r in rows if r["row"] != "teacher"), default=None)
    runs = [plan_run(args.runs, task, r["row"], r["seed"], args.quick) for r in rows
            if r["row"] == "teacher" or r["seed"] == seed]
    if not all(done(r) for r in runs):
        print(f"[{task}] sample grid kept: seed {seed}'s generator files are not all here",
              flush=True)
        return []
    return runs


def measure_latencies(results: dict, args, measurer) -> None:
    """Each task's architectures (from the measured rows), timed in turn; again when the
    set of them changed."""
    from benchmarks.gan.measure import task_latencies

    for task in args.tasks:
        infos = {r["arch"]: r["info"] for r in results["runs"] if r["task"] == task and "info" in r}
        info = results["task_info"].get(task)
        if not infos or (set(info["latency"]) == set(infos) and not args.remeasure):
            continue
        print(f"[{task}] latency of {len(infos)} architectures ({args.rounds} rounds)", flush=True)
        info["latency"] = task_latencies(infos, measurer.task(task)["size"], args.rounds,
                                         args.repeats)


def finish(results: dict, out: Path) -> None:
    from benchmarks.gan.page import write_page

    results["date"] = time.strftime("%Y-%m-%d")
    results["machine"] = machine_info()
    write_page(results, out)

#!/usr/bin/env python
"""Benchmarks on the embedded default (Fashion-MNIST, LeNet-5 -> LeNet-5-half).

    python tools/benchmark.py                 # every method + loop overhead
    python tools/benchmark.py --methods dafl  # a subset
    python tools/benchmark.py --overhead-only

For each method: a fresh run with configs/<method>/fashion_mnist.yaml through the same
code path as tools/train_dfkd.py; teacher and final student accuracy on the real test
set, their ratio, wall time and iterations/s. Then the loop's overhead: the shared loop
against a minimal hand-written PyTorch loop with the same models, batch and steps (DFAD's
game without replay or augmentation, which the hand-written loop would have to repeat),
timed in alternating blocks in one process. Writes benchmarks/results.json and results.md.
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from dfkd.data_free import main as train_dfkd  # noqa: E402
from dfkd.engine import build_optimizer  # noqa: E402
from dfkd.teacher import load_teacher  # noqa: E402

OUT = Path("benchmarks")
RUNS = OUT / "runs"


def run_method(method: str, extra: list[str]) -> dict:
    out = RUNS / method
    shutil.rmtree(out, ignore_errors=True)
    train_dfkd(["--method", method, "--out", str(out), *extra])
    return summarize(json.loads((out / "metrics.json").read_text()))


def summarize(metrics: dict) -> dict:
    """One results row from a run's metrics.json."""
    return {
        "method": metrics["method"],
        "teacher_acc": metrics["teacher_acc"],
        "student_acc": metrics["student_acc"],
        "best_student_acc": metrics["best_student_acc"],
        "ratio": metrics["student_acc"] / metrics["teacher_acc"],
        "iters": metrics["iters"],
        "seconds": metrics["seconds"],
        "iters_per_s": metrics["iters_per_second"],
        "history": metrics["history"],
        "config": metrics["config"],
    }


def build_pair(method: str):
    """The shared loop's ``step`` and a hand-written DFAD step on identical copies."""
    from dfkd.config import DFKDConfig, build_config
    from dfkd.data import get_spec
    from dfkd.engine import AdversarialLoop, Player
    from dfkd.models import build_model
    from dfkd.registry import METHODS
    from generators import build_generator

    if method != "dfad":
        raise ValueError("the hand-written reference loop is DFAD's")
    cfg = build_config(DFKDConfig(), [Path("configs/dfad/fashion_mnist.yaml")])
    spec = get_spec("fashion_mnist")
    teacher, _ = load_teacher("lenet5", "fashion_mnist")
    torch.manual_seed(0)
    student = build_model(cfg.student.model, in_channels=1, num_classes=10)
    generator = build_generator(cfg.generator.model, cfg.generator.nz, cfg.generator.ngf,
                                spec.image_size, 1).to(memory_format=torch.channels_last)
    student2, generator2 = copy.deepcopy(student), copy.deepcopy(generator)
    batch, nz, n_s = cfg.train.batch_size, cfg.generator.nz, cfg.student.steps

    sp = Player.from_config("student", student, cfg.student, cfg.train.iters)
    gp = Player.from_config("generator", generator, cfg.generator, cfg.train.iters)
    m = METHODS.get("dfad")(teacher, student, generator, nz=nz, batch_size=batch, spec=spec)
    loop = AdversarialLoop(m, sp, gp, cfg.train.iters, RUNS / "overhead")

    opt_s = build_optimizer(student2.parameters(), cfg.student.optim)
    opt_g = build_optimizer(generator2.parameters(), cfg.generator.optim)

    def manual_step(_: int) -> None:
        x = generator2(torch.randn(batch, nz))
        loss_g = -(student2(x) - teacher(x)).abs().mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        for _ in range(n_s):
            with torch.no_grad():
                x = generator2(torch.randn(batch, nz))
                t = teacher(x)
            loss_s = (student2(x) - t).abs().mean()
            opt_s.zero_grad()
            loss_s.backward()
            opt_s.step()

    return loop.step, manual_step


def loop_overhead(method: str = "dfad", blocks: int = 40, iters_per_block: int = 1) -> dict:
    """Time the shared loop and a hand-written loop in alternating blocks (ABBA order,
    so drifts in machine load hit both alike). The ratio is the median over blocks of
    shared/manual time of the two runs adjacent in time, which cancels slow load drifts."""
    shared_step, manual_step = build_pair(method)
    for step in (shared_step, manual_step):  # warm-up
        step(0)
    times: dict[str, list[float]] = {"shared": [], "manual": []}
    pair = [("shared", shared_step), ("manual", manual_step)]
    for block in range(blocks):
        for name, step in (pair if block % 2 == 0 else pair[::-1]):
            start = time.perf_counter()
            for i in range(iters_per_block):
                step(i)
            times[name].append((time.perf_counter() - start) / iters_per_block)
    shared, manual = statistics.median(times["shared"]), statistics.median(times["manual"])
    block_ratios = sorted(a / b for a, b in zip(times["shared"], times["manual"]))
    return {"method": method, "shared_s_per_iter": shared, "manual_s_per_iter": manual,
            "ratio": statistics.median(block_ratios), "block_ratio_quartiles": [
                block_ratios[len(block_ratios) // 4], block_ratios[3 * len(block_ratios) // 4]],
            "blocks": blocks, "iters_per_block": iters_per_block}


def write_report(results: dict) -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Benchmarks: data-free distillation on the embedded default", "",
             f"Fashion-MNIST, LeNet-5 teacher -> LeNet-5-half student, {results['machine']}.",
             f"Generated by `python tools/benchmark.py` on {results['date']}.", "",
             "| method | teacher acc | student acc | ratio | best acc | iters | wall time | it/s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results["methods"]:
        lines.append(f"| {r['method']} | {r['teacher_acc']:.2f} | {r['student_acc']:.2f} | "
                     f"{r['ratio']:.3f} | {r['best_student_acc']:.2f} | {r['iters']} | "
                     f"{r['seconds'] / 60:.1f} min | {r['iters_per_s']:.2f} |")
    for r in results["methods"]:
        points = ", ".join(f"{h['acc']:.1f}% at {h['seconds'] / 60:.1f} min"
                           for h in r.get("history", []))
        lines += ["", f"{r['method']} student accuracy during the run (iteration every "
                  f"{r['config']['train']['eval_every']}): {points}."]
    if "overhead" in results:
        o = results["overhead"]
        lines += ["", "## Loop overhead", "",
                  f"Shared loop vs a minimal hand-written PyTorch loop ({o['method']}, same "
                  f"models, batch and steps; {o['blocks']} alternating blocks of "
                  f"{o['iters_per_block']} iterations): median {o['shared_s_per_iter'] * 1000:.1f} "
                  f"ms vs {o['manual_s_per_iter'] * 1000:.1f} ms per iteration, median "
                  "ratio of adjacent blocks "
                  f"**{o['ratio']:.3f}** (per-block ratios, quartiles: "
                  f"{o['block_ratio_quartiles'][0]:.3f}-{o['block_ratio_quartiles'][1]:.3f}; "
                  "the spread is the machine's noise)."]
    (OUT / "results.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--methods", nargs="*", default=["dafl", "dfad"])
    parser.add_argument("--overhead-only", action="store_true")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    load_teacher("lenet5", "fashion_mnist", train_if_missing=True)
    results = {"machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, "
                          f"torch {torch.__version__}",
               "date": time.strftime("%Y-%m-%d"), "methods": []}
    previous = OUT / "results.json"
    if previous.exists():
        old = json.loads(previous.read_text())
        rerun = [] if args.overhead_only else args.methods
        results["methods"] = [r for r in old.get("methods", []) if r["method"] not in rerun]
    if not args.overhead_only:
        extra = [x for o in args.overrides for x in ("--set", o)]
        for method in args.methods:
            results["methods"].append(run_method(method, extra))
    results["methods"].sort(key=lambda r: r["method"])
    results["overhead"] = loop_overhead()
    write_report(results)
    print((OUT / "results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Knowledge-form losses on real data: student accuracy and time per epoch per loss.

    python tools/benchmark_losses.py                         # both pairs, every row
    python tools/benchmark_losses.py --pairs lenet --rows kd dkd   # a subset; others kept

Each row is ``tools/train_kd.py`` (data-driven distillation, the baseline data-free
results are compared against) with one ``student_loss`` block, in its own child process,
on a fixed budget per pair:

* ``lenet``: the embedded default, LeNet-5 -> LeNet-5-half on Fashion-MNIST, all 60k
  training images, configs/kd/fashion_mnist.yaml;
* ``resnet``: a CIFAR-style pair, ResNet-20 -> ResNet-8 (He et al. 2016) on
  Fashion-MNIST padded to 32x32, configs/kd/fashion_mnist_resnet.yaml: a reduced budget
  that fits 2 CPU cores (a subset of the training images, few epochs; see the report).

Weights are the published ones (METHODS.md section 5; RepDistiller's for the feature
methods): CE 1 + β·term, KD as CE 0.1 + KD 0.9 (τ = 4), DKD as CE 1 + DKD (α 1, β 8).
Writes benchmarks/losses.json and benchmarks/losses.md after every row.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import OUT, ROOT
from benchmarks.children import run_child
from benchmarks.machine import machine_info

TRAIN_SCRIPT = ROOT / "tools" / "train_kd.py"

#: row name -> (student_loss, where the weights come from)
ROWS: dict[str, tuple[dict[str, float], str]] = {
    "ce": ({"ce": 1.0}, "no teacher"),
    "kd": ({"ce": 0.1, "kd": 0.9}, "Hinton 2015; mdistiller weights, τ 4"),
    "dkd": ({"ce": 1.0, "dkd": 1.0}, "Zhao 2022: α 1, β 8, τ 4"),
    "pr_dkd": ({"ce": 1.0, "pr_dkd": 1.0}, "seed 003: DKD on standardized logits"),
    "ddkd": ({"ce": 1.0, "dkd": 1.0, "ddkd": 1.0}, "seed 004: DKD + L_DDKD + L_diff + L_ae"),
    "tf_kd": ({"ce": 0.9, "tf_kd": 0.1}, "Yuan 2020: virtual teacher a 0.9, τ 20"),
    "fitnet": ({"ce": 1.0, "fitnet": 100.0}, "Romero 2015; β 100"),
    "at": ({"ce": 1.0, "at": 1000.0}, "Zagoruyko 2017; β 1000"),
    "sp": ({"ce": 1.0, "sp": 3000.0}, "Tung 2019; γ 3000"),
    "pkt": ({"ce": 1.0, "pkt": 30000.0}, "Passalis 2018; β 30000"),
    "nst": ({"ce": 1.0, "nst": 50.0}, "Huang 2017; β 50"),
    "ft": ({"ce": 1.0, "ft": 200.0}, "Kim 2018; β 200, paraphraser trained online"),
    "ab": ({"ce": 1.0, "ab": 1.0}, "Heo 2019; β 1, no initialization phase"),
    "vid": ({"ce": 1.0, "vid": 1.0}, "Ahn 2019; β 1"),
    "kdsvd": ({"ce": 1.0, "kdsvd": 1.0}, "Lee 2018; β 1"),
    "rkd": ({"ce": 1.0, "rkd_distance": 25.0, "rkd_angle": 50.0}, "Park 2019; 25 / 50"),
    "fsp": ({"ce": 1.0, "fsp": 50.0}, "Yim 2017; β 50, no pretraining stage"),
    "irg": ({"ce": 1.0, "irg": 1.0}, "Liu 2019; β 1"),
    "crd": ({"ce": 1.0, "crd": 0.8}, "Tian 2020; β 0.8, queue of 4096 negatives"),
    "crd+kd": ({"ce": 0.1, "kd": 0.9, "crd": 0.8}, "Tian 2020, CRD+KD"),
}

PAIRS = {
    "lenet": {"config": "configs/kd/fashion_mnist.yaml", "teacher": "lenet5",
              "title": "LeNet-5 -> LeNet-5-half, Fashion-MNIST, 60k real images"},
    "resnet": {"config": "configs/kd/fashion_mnist_resnet.yaml", "teacher": "resnet20",
               "title": "ResNet-20 -> ResNet-8 (CIFAR-style), Fashion-MNIST, reduced budget"},
}


def ensure_teacher(arch: str, epochs: int, data_root: str | None) -> None:
    """Train ``checkpoints/<arch>_fashion_mnist.pt`` if it is missing (in a child)."""
    if (ROOT / "checkpoints" / f"{arch}_fashion_mnist.pt").exists():
        return
    cmd = [sys.executable, str(ROOT / "tools" / "train_teacher.py"), "--model", arch,
           "--epochs", str(epochs)] + (["--data-root", data_root] if data_root else [])
    subprocess.run(cmd, check=True, cwd=ROOT)


def run_seed(pair: str, row: str, seed: int, out: Path, passthrough: list[str],
             echo: bool) -> dict:
    """One ``train_kd.py`` run of ``row`` with ``seed``: its metrics, or the error."""
    weights = ROWS[row][0]
    run_dir = out / "runs" / "losses" / pair / row / f"seed{seed}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    cmd = [sys.executable, str(TRAIN_SCRIPT), "--config", str(ROOT / PAIRS[pair]["config"]),
           "--out", str(run_dir), "--seed", str(seed),
           "--loss", *[f"{k}={v:g}" for k, v in weights.items()], *passthrough]
    print(f"== {pair}/{row}/seed{seed}: {' '.join(cmd[1:])}", flush=True)
    status, peak_mb, wall, _ = run_child(cmd, run_dir / "stdout.txt", f"[{pair}/{row}] ", echo)
    if status != 0:
        tail = (run_dir / "stdout.txt").read_text().strip().splitlines()[-2:]
        return {"error": f"seed {seed}, exit {status}: {' | '.join(tail)}"}
    return {**json.loads((run_dir / "metrics.json").read_text()),
            "peak_rss_mb": round(peak_mb, 1), "process_seconds": round(wall, 1)}


def run_row(pair: str, row: str, seeds: list[int], out: Path, passthrough: list[str],
            echo: bool) -> dict:
    """Every seed of one row; the row holds their mean and standard deviation."""
    weights, source = ROWS[row]
    base = {"pair": pair, "row": row, "student_loss": weights, "source": source, "seeds": seeds}
    runs = [run_seed(pair, row, seed, out, passthrough, echo) for seed in seeds]
    errors = [r["error"] for r in runs if "error" in r]
    if errors:
        return {**base, "error": "; ".join(errors)}
    accs = [r["student_acc"] for r in runs]
    first = runs[0]
    return {**base, "teacher_acc": first["teacher_acc"], "accs": accs,
            "student_acc": statistics.mean(accs),
            "student_acc_sd": statistics.stdev(accs) if len(accs) > 1 else 0.0,
            "best_student_acc": statistics.mean(r["best_student_acc"] for r in runs),
            "epochs": first["epochs"], "train_images": first["train_images"],
            "seconds_per_epoch": statistics.mean(r["seconds_per_epoch"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "history": [round(statistics.mean(h["acc"] for h in hs), 2)
                        for hs in zip(*(r["history"] for r in runs))]}


def table_lines(rows: list[dict], pair: str) -> list[str]:
    ce = next((r["student_acc"] for r in rows if r["row"] == "ce" and "student_acc" in r), None)
    lines = ["| loss | student_loss | final acc | vs CE | best | acc per epoch (mean) "
             "| s/epoch | source |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        terms = ", ".join(f"{k} {v:g}" for k, v in r["student_loss"].items())
        if "error" in r:
            lines.append(f"| {r['row']} | {terms} | failed: {r['error']} | | | | | |")
            continue
        delta = "" if ce is None or r["row"] == "ce" else f"{r['student_acc'] - ce:+.2f}"
        curve = " ".join(f"{a:.1f}" for a in r["history"])
        spread = f" ± {r['student_acc_sd']:.2f}" if len(r["seeds"]) > 1 else ""
        lines.append(f"| {r['row']} | {terms} | {r['student_acc']:.2f}{spread} | {delta} | "
                     f"{r['best_student_acc']:.2f} | {curve} | {r['seconds_per_epoch']:.1f} | "
                     f"{r['source']} |")
    return lines


def write_report(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "losses.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Knowledge-form losses on real data (`tools/benchmark_losses.py`)", "",
             f"Machine: {results['machine']}; date {results['date']}. Every row is "
             "`tools/train_kd.py` in its own process; one evaluation per epoch on the "
             "10k test images.", ""]
    for pair, spec in PAIRS.items():
        rows = [r for r in results["rows"] if r["pair"] == pair]
        if not rows:
            continue
        first = next((r for r in rows if "teacher_acc" in r), None)
        lines += [f"## {spec['title']}", ""]
        if first:
            lines += [f"Teacher {spec['teacher']}: {first['teacher_acc']:.2f}%. Budget: "
                      f"{first['epochs']:g} epochs on {first['train_images']} training images; "
                      + (f"seeds {', '.join(map(str, first['seeds']))} (final accuracy is their "
                         "mean ± standard deviation; \"vs CE\" compares means)."
                         if len(first["seeds"]) > 1 else
                         f"one seed ({first['seeds'][0]}): differences under ~0.5 points are "
                         "within the seed-to-seed spread seen on the LeNet pair."), ""]
        lines += table_lines(sorted(rows, key=lambda r: list(ROWS).index(r["row"])), pair) + [""]
    (out / "losses.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", nargs="*", default=list(PAIRS), choices=list(PAIRS))
    parser.add_argument("--rows", nargs="*", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--resnet-teacher-epochs", type=int, default=3)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out-dir", default=str(OUT))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    passthrough = ["--data-root", args.data_root] if args.data_root else []
    previous = out / "losses.json"
    results = json.loads(previous.read_text()) if previous.exists() else {"rows": []}
    results.update(machine=machine_info(import_torch=False), date=time.strftime("%Y-%m-%d"))
    for pair in args.pairs:
        ensure_teacher(PAIRS[pair]["teacher"], args.resnet_teacher_epochs, args.data_root)
        for row in args.rows:
            result = run_row(pair, row, args.seeds, out, passthrough, not args.quiet)
            results["rows"] = [r for r in results["rows"]
                               if (r["pair"], r["row"]) != (pair, row)] + [result]
            write_report(results, out)
    print((out / "losses.md").read_text())
    return 1 if any("error" in r for r in results["rows"]) else 0


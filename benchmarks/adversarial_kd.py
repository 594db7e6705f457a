"""The adversarial student KD rows of ``benchmarks/joint.md`` (``tools/benchmark_joint.py
--parts kd``; the module docstring of ``benchmarks/joint.py`` says what they are): the rows,
their runs (one resumable folder per row and seed) and the report lines that judge each
variant against its baseline within the seed spread."""
from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

from benchmarks import ROOT
from benchmarks.children import run_unless_done

TOOLS = ROOT / "tools"
SEEDS3 = [0, 1, 2]
KD_ROWS = {  # name: (tool, flags, seeds); a flag "configs/..." is a path under the repository
    "kd": ("train_kd.py", ["--loss", "ce=0.1", "kd=0.9"], SEEDS3),
    # issue 20: each against plain KD on the same 5 epochs of real data, three seeds
    "kd+adversarial (features)": ("train_kd.py", ["--config",
                                                  "configs/kd/fashion_mnist_adversarial.yaml"],
                                  SEEDS3),
    "kdcan": ("train_kd.py", ["--config", "configs/kd/fashion_mnist_kdcan.yaml"], SEEDS3),
    "kdgan": ("train_kd.py", ["--config", "configs/kd/fashion_mnist_kdgan.yaml"], SEEDS3),
    # the logit discriminator (named adversarial before issue 20; new folders, so a run of
    # the old name is never taken for one of the new)
    "kd+adversarial_logits": ("train_kd.py", ["--loss", "ce=0.1", "kd=0.9",
                                              "adversarial_logits=1"], [0, 1]),
    "kd+adversarial_logits, γ 0.1": ("train_kd.py", ["--loss", "ce=0.1", "kd=0.9",
                                                     "adversarial_logits=0.1"], [0, 1]),
    "kd+anc": ("train_kd.py", ["--loss", "ce=0.1", "kd=0.9", "anc=1"], [0, 1]),
    "dafl": ("train_dfkd.py", ["--method", "dafl"], [0]),
    # DAFL's own student loss is KD at τ = 1; the block keeps it and adds the critic's term
    "dafl+adversarial_logits": ("train_dfkd.py", ["--method", "dafl", "--loss", "kd=1",
                                                  "adversarial_logits=1", "--set",
                                                  "knowledge.temperature=1"], [0]),
    "afd": ("train_afd.py", [], [0]),
    "afd, adv_weight 0 (DML)": ("train_afd.py", ["--set", "options.adv_weight=0"], [0]),
}
#: each variant's baseline in the verdict lines
BASELINES = {"kd": ("kd+adversarial (features)", "kdcan", "kdgan", "kd+adversarial_logits",
                    "kd+adversarial_logits, γ 0.1", "kd+anc"),
             "dafl": ("dafl+adversarial_logits",), "afd, adv_weight 0 (DML)": ("afd",)}
#: --quick: flags that shrink each tool's run to seconds
QUICK = {"train_kd.py": ["--epochs", "1", "--set", "train.train_subset=256"],
         "train_afd.py": ["--epochs", "1", "--set", "train.train_subset=256"],
         "train_dfkd.py": ["--iters", "4"]}


def run_once(name: str, cmd: list[str], folder: Path, product: str) -> dict:
    """:func:`benchmarks.children.run_unless_done`, then the run's metrics.json."""
    run_unless_done(name, cmd, folder, product)
    return json.loads((folder / "metrics.json").read_text())


def row_folder(runs: Path, name: str, seed: int) -> Path:
    """``runs/<row name made a folder name>/seed<seed>``: one resumable run per (row, seed)."""
    return runs / re.sub(r"[^a-z0-9+]+", "_", name).strip("_") / f"seed{seed}"


def tool_command(tool: str, flags: list[str], seed: int, passthrough: list[str],
                 quick: bool = False, teacher_ckpt: str | None = None) -> list[str]:
    """The child's command: the tool, its flags (``configs/...`` made a path under the
    repository), the seed, the shared flags, ``--teacher-ckpt`` for the tools with a
    teacher and, ``quick``, :data:`QUICK`'s."""
    flags = [str(ROOT / f) if f.startswith("configs/") else f for f in flags]
    teacher = (["--teacher-ckpt", teacher_ckpt]
               if teacher_ckpt and tool in ("train_kd.py", "train_dfkd.py") else [])
    return [str(TOOLS / tool), *flags, "--seed", str(seed), *passthrough, *teacher,
            *(QUICK[tool] if quick else [])]


def run_kd(runs: Path, passthrough: list[str], rows: list[str] | None = None,
           seeds: list[int] | None = None, quick: bool = False,
           teacher_ckpt: str | None = None) -> list[dict]:
    """Every KD row (or those named in ``rows``), each over its seeds (or ``seeds``);
    ``teacher_ckpt``: the teacher file of the rows with a teacher (default: the cached
    LeNet-5, trained first where it is missing)."""
    unknown = sorted(set(rows or []) - set(KD_ROWS))
    if unknown:
        raise SystemExit(f"unknown --rows {', '.join(unknown)}; the rows are: "
                         + ", ".join(KD_ROWS))
    out = []
    for name, (tool, flags, row_seeds) in KD_ROWS.items():
        if rows and name not in rows:
            continue
        row_seeds = seeds or row_seeds
        results = [run_once(f"{name}/seed{seed}", tool_command(tool, flags, seed, passthrough,
                                                                quick, teacher_ckpt),
                            row_folder(runs, name, seed), "metrics.json") for seed in row_seeds]
        accs = [r.get("student_acc", r.get("acc")) for r in results]
        first = results[0]
        in_game = [r["history"][-1]["teacher_acc_in_game"] for r in results
                   if r.get("history") and "teacher_acc_in_game" in r["history"][-1]]
        out.append({"row": name, "tool": tool, "flags": flags, "seeds": row_seeds, "accs": accs,
                    "acc": statistics.mean(accs),
                    "acc_sd": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                    "teacher_acc": first.get("teacher_acc"),
                    "peer_accs": {k: v for k, v in first.items() if k.startswith("acc_")},
                    "teacher_in_game": statistics.mean(in_game) if in_game else None,
                    "seconds": statistics.mean(r["seconds"] for r in results),
                    "iters": first["iters"]})
    return out


def verdict(row: dict, base: dict) -> str:
    """One report line: ``row`` against its baseline ``base``, the difference of their mean
    accuracies judged against the seed spread (the larger of their standard deviations)."""
    diff = row["acc"] - base["acc"]
    head = f"- {row['row']} vs {base['row']}: {diff:+.2f} points"
    if len(row["seeds"]) < 2 or len(base["seeds"]) < 2:
        return head + " (one seed)"
    spread = max(row["acc_sd"], base["acc_sd"])
    if abs(diff) <= spread:
        return head + f": within the seed spread (up to {spread:.2f}), not a gain"
    side = "beats it" if diff > 0 else "falls below it"
    return head + f": {side} by more than the seed spread (up to {spread:.2f})"


def kd_lines(rows: list[dict]) -> list[str]:
    lines = ["## Adversarial student KD: LeNet-5 → LeNet-5-half on Fashion-MNIST", "",
             "| row | tool and flags | student acc (%) | per seed | teacher | train s |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        spread = f" ± {r['acc_sd']:.2f}" if len(r["seeds"]) > 1 else ""
        teacher = f"{r['teacher_acc']:.2f}" if r["teacher_acc"] else "none (online peers)"
        peers = "; " + ", ".join(f"{k} {v:.2f}" for k, v in r["peer_accs"].items()) if r["peer_accs"] else ""
        if r.get("teacher_in_game") is not None:  # KDGAN trains its teacher
            teacher += f" (in the game: {r['teacher_in_game']:.2f})"
        command = " ".join([r["tool"], *r["flags"]])
        lines.append(f"| {r['row']} | `{command}` | {r['acc']:.2f}{spread} | "
                     f"{', '.join(f'{a:.2f}' for a in r['accs'])}{peers} | {teacher} | "
                     f"{r['seconds']:.0f} |")
    accs = {r["row"]: r for r in rows}
    lines.append("")
    for base, variants in BASELINES.items():
        lines += [verdict(accs[name], accs[base]) for name in variants
                  if base in accs and name in accs]
    return lines + [""]

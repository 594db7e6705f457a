"""Joint G+D distillation and adversarial student KD (issue 7): ``benchmarks/joint.md``.

    python tools/benchmark_joint.py                 # train what is missing, measure, report
    python tools/benchmark_joint.py --parts gan     # only the GAN table (or: kd)

GAN part, on Fashion-MNIST garments from noise (32×32):

1. teacher: a DCGAN, ``tools/train_gan.py --task dcgan`` (configs/gan/fashion.yaml);
2. scratch: the student's widths trained the same way, without a teacher, for the
   students' iteration count;
3. aguinaldo: ``tools/compress_gan.py --task dcgan --set method=aguinaldo`` (pixel MSE to
   the teacher for the same z);
4. joint: ``tools/compress_gan.py --task dcgan`` (configs/compress/fashion.yaml: GAN +
   L1 to the teacher for G_S; GAN + L1 to the teacher's D for D_S);

each in its own process, reused when its generator file exists. Then, in this process:
parameters, MACs per image, FID of samples for fixed latents against the test images
under the Fashion-MNIST LeNet-5's features, agreement with the teacher for the same z,
and a PNG of samples. "Gap closed" = (FID_scratch − FID) / (FID_scratch − FID_teacher).

KD part, LeNet-5 → LeNet-5-half on Fashion-MNIST: plain KD against KD plus the adversarial
term (Wang et al. 2018) and plus ANC (Belagiannis et al. 2018) with the real training data
(``tools/train_kd.py``, configs/kd/fashion_mnist.yaml, two seeds), the same with the
data-free default (DAFL, ``tools/train_dfkd.py``, one seed), and AFD's two peers trained
online without a teacher (``tools/train_afd.py``), with and without its adversarial term.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

from benchmarks import OUT, ROOT
from benchmarks.children import run_unless_done
from benchmarks.machine import machine_info

GAN_MODELS = ("teacher", "scratch", "aguinaldo", "joint")
TOOLS = ROOT / "tools"
KD_ROWS = {  # name: (tool, flags, seeds)
    "kd": ("train_kd.py", ["--loss", "ce=0.1", "kd=0.9"], [0, 1]),
    "kd+adversarial": ("train_kd.py", ["--loss", "ce=0.1", "kd=0.9", "adversarial=1"], [0, 1]),
    "kd+adversarial, γ 0.1": ("train_kd.py", ["--loss", "ce=0.1", "kd=0.9", "adversarial=0.1"],
                              [0, 1]),
    "kd+anc": ("train_kd.py", ["--loss", "ce=0.1", "kd=0.9", "anc=1"], [0, 1]),
    "dafl": ("train_dfkd.py", ["--method", "dafl"], [0]),
    # DAFL's own student loss is KD at τ = 1; the block keeps it and adds the critic's term
    "dafl+adversarial": ("train_dfkd.py", ["--method", "dafl", "--loss", "kd=1",
                                           "adversarial=1", "--set", "knowledge.temperature=1"],
                         [0]),
    "afd": ("train_afd.py", [], [0]),
    "afd, adv_weight 0 (DML)": ("train_afd.py", ["--set", "options.adv_weight=0"], [0]),
}


def gan_commands(runs: Path) -> dict[str, list[str]]:
    import yaml

    student = yaml.safe_load((ROOT / "configs" / "compress" / "fashion.yaml").read_text())
    teacher = str(runs / "teacher" / "latest_net_G.pth")
    compress = [str(TOOLS / "compress_gan.py"), "--task", "dcgan", "--teacher-ckpt", teacher]
    return {
        "teacher": [str(TOOLS / "train_gan.py"), "--task", "dcgan"],
        "scratch": [str(TOOLS / "train_gan.py"), "--task", "dcgan",
                    "--set", f"ngf={student['student_ngf']}", "--set", f"ndf={student['student_ndf']}",
                    "--iters", str(student["train"]["iters"])],
        "aguinaldo": [*compress, "--set", "method=aguinaldo"],
        "joint": compress,
    }


def run_once(name: str, cmd: list[str], folder: Path, product: str) -> dict:
    """:func:`benchmark.run_unless_done`, then the run's metrics.json."""
    run_unless_done(name, cmd, folder, product)
    return json.loads((folder / "metrics.json").read_text())


def measure_gan(runs: Path, data_root: str | None, n_images: int, out: Path) -> dict:
    """Every number of the GAN table, from the four generator files."""
    import torch
    from torchvision.utils import save_image

    from dfkd.data.gan_tasks import fashion_images
    from dfkd.gan.evaluation import (
        FIDConfig,
        compare,
        generate,
        latent_bank,
        task_features,
        task_fid,
    )
    from dfkd.metrics.cost import count_macs, count_parameters
    from generators.dcgan import load_dcgan_generator

    features = task_features(FIDConfig(), data_root)
    test = fashion_images(data_root, train=False)[:n_images]
    real = fashion_images(data_root, train=True)[:n_images]
    rows, samples = {}, {}
    for model in GAN_MODELS:
        generator, info = load_dcgan_generator(runs / model / "latest_net_G.pth")
        z = latent_bank(n_images, info["nz"])
        samples[model] = generate(generator, z, "cpu")
        metrics = json.loads((runs / model / "metrics.json").read_text())
        rows[model] = {"ngf": info["ngf"], "params": count_parameters(generator),
                       "macs": count_macs(generator, z[:1]),
                       **task_fid(samples[model], test, features),
                       "iters": metrics["iters"], "seconds": metrics["seconds"]}
        if model != "teacher":
            rows[model].update({f"{k}_teacher": v for k, v in
                                compare(samples[model], samples["teacher"]).items()})
    gap = rows["scratch"]["fid"] - rows["teacher"]["fid"]
    for model in ("aguinaldo", "joint"):
        rows[model]["gap_closed"] = (rows["scratch"]["fid"] - rows[model]["fid"]) / gap if gap else None
    out.mkdir(parents=True, exist_ok=True)
    save_image((torch.cat([samples[m][:16] for m in GAN_MODELS]) + 1) / 2,
               out / "joint_samples.png", nrow=16, padding=1, pad_value=1.0)
    return {"rows": rows, "real_fid": task_fid(real, test, features)["fid"],
            "fid_features": features.name, "images": n_images}


def run_kd(runs: Path, passthrough: list[str]) -> list[dict]:
    rows = []
    for name, (tool, flags, seeds) in KD_ROWS.items():
        results = []
        for seed in seeds:
            folder = runs / re.sub(r"[^a-z0-9+]+", "_", name).strip("_") / f"seed{seed}"
            results.append(run_once(f"{name}/seed{seed}", [str(TOOLS / tool), *flags, "--seed",
                                                           str(seed), *passthrough],
                                    folder, "metrics.json"))
        accs = [r.get("student_acc", r.get("acc")) for r in results]
        first = results[0]
        rows.append({"row": name, "tool": tool, "flags": flags, "seeds": seeds, "accs": accs,
                     "acc": statistics.mean(accs),
                     "acc_sd": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                     "teacher_acc": first.get("teacher_acc"),
                     "peer_accs": {k: v for k, v in first.items() if k.startswith("acc_")},
                     "seconds": statistics.mean(r["seconds"] for r in results),
                     "iters": first["iters"]})
    return rows


def gan_lines(gan: dict) -> list[str]:
    lines = ["## Joint G+D distillation: DCGAN on Fashion-MNIST", "",
             f"FID of {gan['images']} samples (fixed latents) against {gan['images']} test images "
             f"under {gan['fid_features']}; {gan['images']} real training images give FID "
             f"{gan['real_fid']:.2f}. L1/PSNR to teacher: the same z through both generators. "
             "Train seconds are each run's wall time as it ran, not timed side by side (the "
             "machine was shared with other jobs); MACs are the cost measure.", "",
             "| model | ngf | params | MMACs/image | FID | gap closed | L1 / PSNR to teacher | iters | train s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for model, r in gan["rows"].items():
        closed = f"{r['gap_closed']:.0%}" if r.get("gap_closed") is not None else ""
        agree = (f"{r['l1_teacher']:.3f} / {r['psnr_teacher']:.2f} dB" if "l1_teacher" in r else "")
        lines.append(f"| {model} | {r['ngf']} | {r['params']:,} | {r['macs'] / 1e6:.1f} | "
                     f"{r['fid']:.2f} | {closed} | {agree} | {r['iters']} | {r['seconds']:.0f} |")
    closed = gan["rows"]["joint"].get("gap_closed")
    verdict = ("n/a (scratch is not behind the teacher)" if closed is None else
               f"{closed:.0%} of the gap closed: {'met' if closed > 0.5 else 'MISSED'}")
    return lines + ["", f"Target, the joint student closes most (> 50%) of the FID gap from the "
                        f"scratch student to the teacher: {verdict}.", "",
                    "![samples](joint_samples.png)", "",
                    "Rows of the picture: teacher, scratch, aguinaldo, joint; the same 16 latents.", ""]


def kd_lines(rows: list[dict]) -> list[str]:
    lines = ["## Adversarial student KD: LeNet-5 → LeNet-5-half on Fashion-MNIST", "",
             "| row | tool and flags | student acc (%) | per seed | teacher | train s |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        spread = f" ± {r['acc_sd']:.2f}" if len(r["seeds"]) > 1 else ""
        teacher = f"{r['teacher_acc']:.2f}" if r["teacher_acc"] else "none (online peers)"
        peers = "; " + ", ".join(f"{k} {v:.2f}" for k, v in r["peer_accs"].items()) if r["peer_accs"] else ""
        command = " ".join([r["tool"], *r["flags"]])
        lines.append(f"| {r['row']} | `{command}` | {r['acc']:.2f}{spread} | "
                     f"{', '.join(f'{a:.2f}' for a in r['accs'])}{peers} | {teacher} | "
                     f"{r['seconds']:.0f} |")
    accs = {r["row"]: r for r in rows}
    lines.append("")
    for base, variants in (("kd", ("kd+adversarial", "kd+adversarial, γ 0.1", "kd+anc")), ("dafl", ("dafl+adversarial",)),
                           ("afd, adv_weight 0 (DML)", ("afd",))):
        for name in variants:
            if base in accs and name in accs:
                a, b = accs[name], accs[base]
                noise = max(a["acc_sd"], b["acc_sd"])
                lines.append(f"- {name} vs {base}: {a['acc'] - b['acc']:+.2f} points"
                             + (f" (seed spread up to {noise:.2f})" if noise else " (one seed)"))
    return lines + [""]


def write_report(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "joint.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Joint G+D distillation and adversarial student KD", "",
             f"Machine: {results.get('machine', '')}. Generated by `python tools/benchmark_joint.py`.", ""]
    if "gan" in results:
        lines += gan_lines(results["gan"])
    if "kd" in results:
        lines += kd_lines(results["kd"])
    (out / "joint.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=["gan", "kd"], choices=["gan", "kd"])
    parser.add_argument("--runs", default="runs/joint", help="folder of the training runs")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--images", type=int, default=2000, help="samples and test images for FID")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    runs, out = Path(args.runs), Path(args.out)
    passthrough = ["--data-root", args.data_root] if args.data_root else []
    previous = out / "joint.json"
    results = json.loads(previous.read_text()) if previous.exists() else {}
    if "gan" in args.parts:
        for model, cmd in gan_commands(runs).items():
            run_once(model, [*cmd, *passthrough], runs / model, "latest_net_G.pth")
        results["gan"] = measure_gan(runs, args.data_root, args.images, out)
    if "kd" in args.parts:
        results["kd"] = run_kd(runs / "kd", passthrough)
    results["machine"] = machine_info()
    write_report(results, out)
    print((out / "joint.md").read_text())
    return 0


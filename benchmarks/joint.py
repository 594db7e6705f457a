"""Joint G+D distillation and adversarial student KD (issue 7): ``benchmarks/joint.md``.

    python tools/benchmark_joint.py                 # train what is missing, measure, report
    python tools/benchmark_joint.py --parts gan     # only the GAN table (or: kd)
    python tools/benchmark_joint.py --parts kd --rows kdgan --seeds 0 --quick  # a smoke test

GAN part, on Fashion-MNIST garments from noise (32×32):

1. teacher: a DCGAN, ``tools/train_gan.py --task dcgan`` (configs/gan/fashion.yaml);
2. scratch: the student's widths trained the same way, without a teacher, for the
   students' iteration count;
3. aguinaldo: ``tools/compress_gan.py --task dcgan --set method=aguinaldo`` (pixel MSE to
   the teacher for the same z);
4. joint (method generic_joint): ``tools/compress_gan.py --task dcgan`` (configs/compress/fashion.yaml: GAN +
   L1 to the teacher for G_S; GAN + L1 to the teacher's D for D_S);

each in its own process, reused when its generator file exists. Then, in this process:
parameters, MACs per image, FID of samples for fixed latents against the test images
under the Fashion-MNIST LeNet-5's features, agreement with the teacher for the same z,
and a PNG of samples. "Gap closed" = (FID_scratch − FID) / (FID_scratch − FID_teacher).

KD part, LeNet-5 → LeNet-5-half on Fashion-MNIST with the real training data, 5 epochs each
(``tools/train_kd.py``): plain KD (configs/kd/fashion_mnist.yaml) against Wang et al. 2018's
feature discriminator (``adversarial``), KDCAN and KDGAN (their configs/kd/*.yaml), three
seeds each, every one judged against plain KD: a difference within the seed spread (the
larger standard deviation of the two rows) is reported as such, not as a gain; KD plus the
logit discriminator (``adversarial_logits``) and ANC (two seeds); the data-free default
(DAFL, ``tools/train_dfkd.py``, one seed); AFD's two peers trained online without a teacher
(``tools/train_afd.py``), with and without its adversarial term. Each (row, seed) is its own
run folder under ``--runs``, reused once it has metrics.json and continued with --resume
when cut short. ``--rows``/``--seeds`` pick a part; ``--quick`` makes each run one epoch on
256 training images (train_dfkd: 4 iterations) in ``runs/joint_quick``, its report beside
the runs, so a smoke test never mixes with the benchmark's runs or pages.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks import OUT, ROOT
from benchmarks.adversarial_kd import KD_ROWS, kd_lines, run_kd, run_once  # noqa: F401
from benchmarks.machine import machine_info

GAN_MODELS = ("teacher", "scratch", "aguinaldo", "joint")
TOOLS = ROOT / "tools"
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
    parser.add_argument("--out", default=None, help=f"report folder (default {OUT})")
    parser.add_argument("--rows", nargs="+", default=None, metavar="ROW",
                        help="only these KD rows (names as in the table, e.g. kd kdgan)")
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="these seeds for every KD row picked (default: each row's own)")
    parser.add_argument("--teacher-ckpt", default=None,
                        help="teacher file for the KD rows with a teacher (default: the cached "
                             "LeNet-5)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: tiny runs in runs/joint_quick, report beside them")
    args = parser.parse_args(argv)
    if args.quick:  # the KD rows only, in their own folders
        args.parts = ["kd"]
        if args.runs == "runs/joint":
            args.runs = "runs/joint_quick"
    runs = Path(args.runs)
    out = Path(args.out or (runs if args.quick else OUT))
    passthrough = ["--data-root", args.data_root] if args.data_root else []
    previous = out / "joint.json"
    results = json.loads(previous.read_text()) if previous.exists() else {}
    if "gan" in args.parts:
        for model, cmd in gan_commands(runs).items():
            run_once(model, [*cmd, *passthrough], runs / model, "latest_net_G.pth")
        results["gan"] = measure_gan(runs, args.data_root, args.images, out)
    if "kd" in args.parts:
        results["kd"] = run_kd(runs / "kd", passthrough, args.rows, args.seeds, args.quick,
                               args.teacher_ckpt)
    results["machine"] = machine_info()
    write_report(results, out)
    print((out / "joint.md").read_text())
    return 0


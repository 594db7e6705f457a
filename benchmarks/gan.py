"""GAN compression on the embedded tasks: teacher vs distilled student vs scratch student.

    python tools/benchmark_gan.py                       # train what is missing, measure, report
    python tools/benchmark_gan.py --tasks pix2pix --measure-only

For each task (``pix2pix``: edges2fashion; ``cyclegan``: sneaker2boot, direction A → B):

1. teacher: ``tools/train_gan.py`` with ``configs/gan/<task>.yaml`` (ResNet-9; ngf 64 for
   pix2pix, 32 for CycleGAN, whose six generator passes per step cost too much at 64 here);
2. student: ``tools/compress_gan.py`` from that teacher (``configs/compress/<task>.yaml``,
   a quarter of the teacher's width: GAN Compression's recon + feature distillation + GAN,
   D from the teacher's);
3. scratch: ``tools/train_gan.py`` at the student's width and iteration count, no
   teacher: what distillation adds;

each in its own child process, reused when its run folder under ``--runs`` holds its
generator file. Then, in this process: parameters, MACs at the task's 32×32 and at 256×256
(the original code's crop size; the generators are fully convolutional), CPU latency at
batch 1 (the models measured in alternation, median of rounds), PSNR/SSIM against the
teacher's outputs and (pix2pix) the ground truth, and FID against real target-domain test
images under the features of the Fashion-MNIST LeNet-5 (no Inception weights here; the
report names the extractor). Writes benchmarks/gan_compression.json and .md.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from benchmarks import OUT, ROOT
from benchmarks.children import run_unless_done
from benchmarks.machine import machine_info

TASKS = {"pix2pix": ("edges2fashion", "latest_net_G.pth"),
         "cyclegan": ("sneaker2boot", "latest_net_G_A.pth")}
MODELS = ("teacher", "student", "scratch")


def generator_file(runs: Path, task: str, model: str) -> Path:
    name = "latest_net_G.pth" if model == "student" else TASKS[task][1]
    return runs / task / model / name


def student_setting(task: str) -> tuple[int, int]:
    """The student's width and iteration count in ``configs/compress/<task>.yaml``."""
    import yaml

    cfg = yaml.safe_load((ROOT / "configs" / "compress" / f"{TASKS[task][0]}.yaml").read_text())
    return cfg["student_ngf"], cfg["train"]["iters"]


def train_missing(task: str, runs: Path, passthrough: list[str]) -> None:
    """Run the children whose generator file is missing."""
    teacher_file = generator_file(runs, task, "teacher")
    student_ngf, student_iters = student_setting(task)
    commands = {
        "teacher": [str(ROOT / "tools" / "train_gan.py"), "--task", task],
        "student": [str(ROOT / "tools" / "compress_gan.py"), "--task", task,
                    "--teacher-ckpt", str(teacher_file)],
        "scratch": [str(ROOT / "tools" / "train_gan.py"), "--task", task,
                    "--set", f"ngf={student_ngf}", "--iters", str(student_iters)],
    }
    for model in MODELS:
        file = generator_file(runs, task, model)
        run_unless_done(f"{task}/{model}", [*commands[model], *passthrough], file.parent,
                        file.name)


def latencies(models: dict, channels: int, sizes: tuple[int, ...], rounds: int,
              repeats: int) -> dict[str, dict[int, float]]:
    """Median over ``rounds`` of each model's median batch-1 latency (ms), the models
    measured in alternation within each round so that load drifts hit all alike."""
    import torch

    from dfkd.metrics.cost import cpu_latency

    samples = {name: {s: [] for s in sizes} for name in models}
    for _ in range(rounds):
        for size in sizes:
            example = torch.zeros(1, channels, size, size)
            for name, model in models.items():
                samples[name][size].append(cpu_latency(model, example, repeats=repeats)["median_ms"])
    return {name: {s: statistics.median(v) for s, v in per.items()} for name, per in samples.items()}


def save_examples(task: str, inputs, targets, outputs: dict, out: Path, n: int = 12) -> None:
    """``gan_compression_<task>.png``: rows input, (pix2pix) target, teacher, student,
    scratch, for the first ``n`` test inputs."""
    import torch
    from torchvision.utils import save_image

    rows = [inputs[:n]] + ([targets[:n]] if task == "pix2pix" else [])
    rows += [outputs[name][:n] for name in MODELS]
    out.mkdir(parents=True, exist_ok=True)
    save_image((torch.cat(rows).clamp(-1, 1) + 1) / 2, out / f"gan_compression_{task}.png",
               nrow=n, padding=1, pad_value=1.0)


def measure(task: str, runs: Path, data_root: str | None, n_images: int, rounds: int,
            repeats: int, out: Path) -> dict:
    """Every number of the report for one task, from the three generator files."""
    import torch

    from dfkd.data.gan_tasks import load_gan_task
    from dfkd.gan.evaluation import FIDConfig, compare, generate, task_features, task_fid
    from dfkd.metrics.cost import count_macs, count_parameters
    from generators.gan_checkpoint import load_pix2pix_state

    task_name = TASKS[task][0]
    inputs, targets = (t[:n_images] for t in load_gan_task(task_name, data_root, train=False))
    train_targets = load_gan_task(task_name, data_root, train=True)[1][:n_images]
    features = task_features(FIDConfig(), data_root)
    models, infos = {}, {}
    for model in MODELS:
        models[model], infos[model] = load_pix2pix_state(generator_file(runs, task, model))
    outputs = {name: generate(model, inputs, "cpu") for name, model in models.items()}
    teacher_out = outputs["teacher"]
    save_examples(task, inputs, targets, outputs, out)
    rows = {"real (train split)": {"fid": task_fid(train_targets, targets, features)["fid"]}}
    for name, model in models.items():
        fake = outputs[name]
        row = {"ngf": infos[name]["ngf"], "netG": infos[name]["netG"],
               "params": count_parameters(model),
               "macs_task": count_macs(model, inputs[:1]),
               "macs_256": count_macs(model, torch.zeros(1, inputs.shape[1], 256, 256)),
               **task_fid(fake, targets, features)}
        if name != "teacher":
            row.update({f"{k}_teacher": v for k, v in compare(fake, teacher_out).items()})
        if task == "pix2pix":
            row.update({f"{k}_gt": v for k, v in compare(fake, targets).items()})
        run_metrics = runs / task / name / "metrics.json"
        if run_metrics.exists():
            saved = json.loads(run_metrics.read_text())
            row.update({"train_iters": saved["iters"], "train_seconds": saved["seconds"]})
        rows[name] = row
    size = inputs.shape[-1]
    lat = latencies(models, inputs.shape[1], (size, 256), rounds, repeats)
    for name in models:
        rows[name].update({"latency_ms_task": lat[name][size], "latency_ms_256": lat[name][256]})
    return {"task": task_name, "images": len(inputs), "size": size, "fid_features": features.name,
            "threads": torch.get_num_threads(), "rows": rows}


def _fmt(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def task_lines(key: str, result: dict) -> list[str]:
    rows, size = result["rows"], result["size"]
    teacher = rows["teacher"]
    lines = [f"### {key}: {result['task']} ({result['images']} test images, {size}×{size})", "",
             f"| model | ngf | params | MMACs {size}² | GMACs 256² | latency {size}² (ms) | "
             "latency 256² (ms) | PSNR / SSIM to teacher | PSNR / SSIM to GT | FID | "
             "train iters / s |", "|" + "---|" * 11]
    for name, r in rows.items():
        if name.startswith("real"):
            lines.append(f"| {name} | | | | | | | | | {r['fid']:.2f} | |")
            continue
        to_t = (f"{r['psnr_teacher']:.2f} / {r['ssim_teacher']:.3f}"
                if "psnr_teacher" in r else "")
        to_gt = f"{r['psnr_gt']:.2f} / {r['ssim_gt']:.3f}" if "psnr_gt" in r else "n/a"
        train = f"{r.get('train_iters', '')} / {_fmt(r.get('train_seconds'), '.0f')}"
        lines.append(
            f"| {name} | {r['ngf']} | {r['params']:,} | {r['macs_task'] / 1e6:.1f} | "
            f"{r['macs_256'] / 1e9:.2f} | {r['latency_ms_task']:.2f} | "
            f"{r['latency_ms_256']:.1f} | {to_t} | {to_gt} | {r['fid']:.2f} | {train} |")
    lines += ["", f"![examples](gan_compression_{key}.png)  ",
              "Rows: input, " + ("target, " if key == "pix2pix" else "") +
              "teacher, distilled student, scratch student (first test images)."]
    student = rows["student"]
    mac_ratio = teacher["macs_task"] / student["macs_task"]
    lat = {s: teacher[f"latency_ms_{s}"] / student[f"latency_ms_{s}"] for s in ("task", "256")}
    fid_ratio = student["fid"] / teacher["fid"]
    verdict = lambda ok: "met" if ok else "MISSED"  # noqa: E731
    lines += ["", f"- MACs: student {1 / mac_ratio:.3f}× the teacher's ({mac_ratio:.1f}× fewer; "
              f"target ≤ 1/8): {verdict(mac_ratio >= 8)}",
              f"- CPU latency at batch 1: {lat['task']:.2f}× lower at {size}², {lat['256']:.2f}× at "
              f"256² (target ≥ 4×): {verdict(lat['task'] >= 4)} at {size}², "
              f"{verdict(lat['256'] >= 4)} at 256²",
              f"- FID: student {student['fid']:.2f} vs teacher {teacher['fid']:.2f} = "
              f"{fid_ratio:.2f}× (target ≤ 1.1×): {verdict(fid_ratio <= 1.1)}; scratch "
              f"{rows['scratch']['fid']:.2f} ({rows['scratch']['fid'] / teacher['fid']:.2f}×)", ""]
    return lines


def write_report(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "gan_compression.json").write_text(json.dumps(results, indent=2) + "\n")
    first = next(iter(results["tasks"].values()), None)
    lines = ["# GAN compression benchmark", "",
             f"Machine: {results['machine']}. Generated by `python tools/benchmark_gan.py`.",
             "Teacher: ResNet-9 generator trained here by `tools/train_gan.py`; student: the same "
             "architecture at a quarter of its width distilled by `tools/compress_gan.py`; "
             "scratch: the student's width trained like the teacher, without it, for the "
             "student's iteration count.",
             f"FID features: {first['fid_features'] if first else ''}. Each FID compares a "
             "model's outputs for the test inputs with the real test targets (pix2pix: the "
             "garments of those edges; CycleGAN: the test ankle boots). The 'real' row is the "
             "FID of as many real training images against the same targets: the distance of "
             "another real sample. Pix2pix outputs share their targets' content and can go "
             "below it.", ""]
    for key, result in results["tasks"].items():
        lines += task_lines(key, result)
    (out / "gan_compression.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--runs", default="runs/gan_bench", help="folder of the training runs")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--measure-only", action="store_true",
                        help="train nothing; every generator file must exist")
    parser.add_argument("--images", type=int, default=2000, help="test images per task")
    parser.add_argument("--rounds", type=int, default=5, help="latency rounds")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per round")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    runs, out = Path(args.runs), Path(args.out)
    passthrough = ["--data-root", args.data_root] if args.data_root else []
    previous = out / "gan_compression.json"
    results = json.loads(previous.read_text()) if previous.exists() else {"tasks": {}}
    for task in args.tasks:
        if not args.measure_only:
            train_missing(task, runs, passthrough)
        results["tasks"][task] = measure(task, runs, args.data_root, args.images, args.rounds,
                                         args.repeats, out)
        results["machine"] = machine_info()
        write_report(results, out)
        print("\n".join(task_lines(task, results["tasks"][task])))
    return 0


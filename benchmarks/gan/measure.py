"""The numbers of one finished run, and the latencies of a task's architectures, in this
process: parameters, MACs (the task's 32×32 and 256×256, the original code's crop; the
generators are fully convolutional), PSNR/SSIM against the task's teacher and
(pix2pix) the ground truth, FID under the Fashion-MNIST LeNet-5's features (no Inception
weights can be had here), and CPU latency at batch 1, the models measured in alternation."""
from __future__ import annotations

import hashlib
import statistics
from pathlib import Path

from benchmarks.gan.plan import TASKS, Run

PAIRED = ("pix2pix",)


class Measurer:
    """Test data, FID features and each teacher's outputs, loaded once per process."""

    def __init__(self, data_root: str | None, images: int, fid_ckpt: str = "",
                 threads: int = 1) -> None:
        import torch

        torch.set_num_threads(threads)
        self.data_root, self.images, self.fid_ckpt = data_root, images, fid_ckpt
        self._tasks: dict[str, dict] = {}
        self._teacher_out: dict[tuple[str, int], object] = {}
        self._features = None

    def features(self):
        """The FID extractor (LeNet-5 penultimate features; its cached checkpoint, trained
        first when missing, or ``fid_ckpt``)."""
        from dfkd.gan.evaluation import FIDConfig, task_features

        if self._features is None:
            cfg = FIDConfig(classifier="lenet5", classifier_ckpt=self.fid_ckpt)
            self._features = task_features(cfg, self.data_root)
        return self._features

    def task(self, task: str) -> dict:
        """The first ``images`` test inputs and targets, and the FID of as many real
        training targets against the test targets (the distance of another real sample)."""
        if task not in self._tasks:
            from dfkd.data.gan_tasks import load_gan_task
            from dfkd.gan.evaluation import task_fid

            name = TASKS[task][0]
            inputs, targets = (t[:self.images] for t in load_gan_task(name, self.data_root,
                                                                      train=False))
            train_targets = load_gan_task(name, self.data_root, train=True)[1][:len(targets)]
            self._tasks[task] = {
                "task": name, "inputs": inputs, "targets": targets, "images": len(inputs),
                "size": inputs.shape[-1], "fid_features": self.features().name,
                "real_fid": task_fid(train_targets, targets, self.features())["fid"]}
        return self._tasks[task]

    def outputs(self, task: str, path: Path):
        from dfkd.gan.evaluation import generate
        from generators.gan_checkpoint import load_pix2pix_state

        model, info = load_pix2pix_state(path)
        return model, info, generate(model, self.task(task)["inputs"], "cpu")

    def teacher_outputs(self, run: Run):
        if run.teacher not in self._teacher_out:
            self._teacher_out[run.teacher] = self.outputs(run.task, run.teacher)[2]
        return self._teacher_out[run.teacher]

    def measure(self, run: Run) -> dict:
        """The run's row (its generator file on the test inputs)."""
        import torch

        from dfkd.gan.evaluation import compare, task_fid
        from dfkd.metrics.cost import count_macs, count_parameters

        data = self.task(run.task)
        model, info, fake = self.outputs(run.task, run.folder / run.product)
        channels = data["inputs"].shape[1]
        row = {"task": run.task, "row": run.row, "seed": run.seed, "ngf": info["ngf"],
               "netG": info["netG"], "arch": arch_key(info), "info": info,
               "sha": file_sha(run.folder / run.product), "params": count_parameters(model),
               "macs_task": count_macs(model, data["inputs"][:1]),
               "macs_256": count_macs(model, torch.zeros(1, channels, 256, 256)),
               **task_fid(fake, data["targets"], self.features())}
        if run.row != "teacher":
            row.update({f"{k}_teacher": v for k, v in
                        compare(fake, self.teacher_outputs(run)).items()})
            row["teacher_sha"] = file_sha(run.teacher)
        if run.task in PAIRED:
            row.update({f"{k}_gt": v for k, v in compare(fake, data["targets"]).items()})
        return row


def file_sha(path: Path) -> str:
    """The first 12 hex digits of the file's SHA-256: which teacher a student was distilled
    from (a teacher retrained after its folder was lost is told apart)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def arch_key(info: dict) -> str:
    """Rows of one architecture cost the same: their latency is measured once."""
    return (f"{info['netG']} ngf {info['ngf']} {info['norm']} "
            f"{info['input_nc']}->{info['output_nc']}")


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
                timed = cpu_latency(model, example, repeats=repeats)
                samples[name][size].append(timed["median_ms"])
    return {name: {s: statistics.median(v) for s, v in per.items()}
            for name, per in samples.items()}


def task_latencies(infos: dict[str, dict], size: int, rounds: int, repeats: int) -> dict:
    """``{arch: {"task": ms, "256": ms}}``, each architecture (``define_G`` keywords) built
    afresh: the time does not depend on the weights, so no generator file is needed."""
    from generators.pix2pix import define_G

    models = {arch: define_G(**info) for arch, info in infos.items()}
    channels = next(iter(infos.values()))["input_nc"]
    lat = latencies(models, channels, (size, 256), rounds, repeats)
    return {arch: {"task": lat[arch][size], "256": lat[arch][256]} for arch in models}

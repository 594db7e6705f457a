"""Teachers: train a classifier on real data, save it with metadata, find and load it.

A teacher file is ``{"state_dict": ..., "meta": {arch, dataset, num_classes, in_channels,
image_size, test_acc, epochs}}``; plain state_dicts from other code bases load too (the
metadata is then unknown and the test accuracy is measured). A teacher of a class subset
(``classes``, knowledge amalgamation) has one output per listed class, in the listed order,
and its meta records ``classes`` (the dataset's class indices); its test accuracy is measured
on the test images of those classes.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from dfkd.core.errors import CheckpointError, DfkdError
from dfkd.data import get_spec, load_tensors
from dfkd.data.datasets import class_subset
from dfkd.engine.config import OptimConfig, PlayerConfig, ScheduleConfig
from dfkd.engine.loop import AdversarialLoop, StatelessMethod
from dfkd.engine.player import Player
from dfkd.engine.real_batches import RealBatches
from dfkd.engine.run_folder import check_out, resume_if_asked
from dfkd.metrics import accuracy
from dfkd.nets import build_model, load_weights, save_weights
from dfkd.nets.import_path import is_import_path
from dfkd.nets.shape_check import check_input_size

CHECKPOINT_DIR = Path("checkpoints")
EMBEDDED_DEFAULT = ("lenet5", "fashion_mnist")  # teacher that make demo trains if missing


def default_teacher_path(arch: str, dataset: str, classes: list[int] | None = None) -> Path:
    """``checkpoints/<arch>_<dataset>.pt``, or ``..._classes0-4.pt`` for a class subset."""
    suffix = f"_classes{classes_label(classes)}" if classes else ""
    return CHECKPOINT_DIR / f"{arch}_{dataset}{suffix}.pt"


def classes_label(classes: list[int]) -> str:
    """``[0, 1, 2, 3, 4]`` -> ``"0-4"``, ``[0, 2, 3]`` -> ``"0,2-3"`` (runs of classes)."""
    runs: list[list[int]] = []
    for k in sorted(classes):
        if runs and k == runs[-1][1] + 1:
            runs[-1][1] = k
        else:
            runs.append([k, k])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


class Supervised(StatelessMethod):
    """Cross-entropy on real labelled batches: the loop's one player is the model."""

    def __init__(self, model: nn.Module, batches: RealBatches) -> None:
        self.model, self.batch = model, batches
        self.steps_per_epoch = batches.steps_per_epoch

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        images, labels = self.batch(iteration)
        return {"loss": F.cross_entropy(self.model(images), labels)}

    def log_media(self, logger, iteration: int) -> None:
        pass


def train_classifier(model: nn.Module, train: TensorDataset, test: TensorDataset, *,
                     epochs: int, run_dir: str | Path, resume: bool = False, lr: float = 1e-3,
                     batch_size: int = 128, device: str = "cpu", seed: int = 0,
                     amp: bool = False, log=print) -> float:
    """Supervised training on the shared loop (one player, no adversary): Adam with a
    cosine schedule, cross-entropy, one evaluation and checkpoint per epoch in ``run_dir``
    (``resume``: continue its latest.pt exactly). Returns the final test accuracy (%)."""
    run_dir = Path(run_dir)
    check_out(run_dir, resume)
    model.to(device).train()
    method = Supervised(model, RealBatches(train, batch_size, seed, torch.device(device)))
    iters = epochs * method.steps_per_epoch
    cfg = PlayerConfig(optim=OptimConfig("adam", lr=lr), schedule=ScheduleConfig("cosine"))
    player = Player.from_config("model", model, cfg, iters)

    def evaluate() -> dict[str, float]:
        acc = accuracy(model, test, device=device)
        epoch = loop.iteration // method.steps_per_epoch
        before = loop.history[-1]["seconds"] if loop.history else 0.0
        log(f"epoch {epoch}/{epochs}: test accuracy {acc:.2f}% ({loop.seconds - before:.1f}s)")
        return {"acc": acc}

    loop = AdversarialLoop(method, player, None, iters, run_dir, evaluate=evaluate,
                           eval_every=method.steps_per_epoch, log_every=iters + 1,
                           identity={"method": "supervised", "model": type(model).__name__,
                                     "epochs": epochs, "seed": seed}, amp=amp)
    resume_if_asked(loop, run_dir, resume)
    return loop.run()["acc"]


def train_teacher(arch: str, dataset: str, out: str | Path | None = None, *, epochs: int = 10,
                  data_root: str | None = None, device: str = "cpu", seed: int = 0,
                  run_dir: str | Path | None = None, resume: bool = False, amp: bool = False,
                  classes: list[int] | None = None, log=print) -> tuple[nn.Module, dict]:
    """Train ``arch`` on ``dataset`` and save it (default ``checkpoints/<arch>_<dataset>.pt``);
    the run's checkpoints go to ``run_dir`` (default ``runs/teacher_<arch>_<dataset>`` for
    the default file, ``<out>_run`` beside another ``out``). ``classes``: train on those
    classes only (sorted dataset indices), labels remapped to 0..len-1; the file records
    them (default ``checkpoints/<arch>_<dataset>_classes<a-b>.pt``)."""
    path = Path(out) if out else default_teacher_path(arch, dataset, classes)
    if path.exists() and not resume:
        raise DfkdError(f"{path} already holds a teacher: pass another --out (or --resume to "
                        "finish its interrupted run); a saved teacher is never overwritten")
    spec = get_spec(dataset, data_root)
    torch.manual_seed(seed)
    num_classes = len(classes) if classes else spec.num_classes
    model = build_model(arch, in_channels=spec.in_channels, num_classes=num_classes)
    train, test = load_tensors(dataset, data_root, train=True), load_tensors(dataset, data_root)
    if classes:
        train, test = class_subset(train, classes), class_subset(test, classes)
    if run_dir is None:
        run_dir = (Path("runs") / path.stem.replace(arch, f"teacher_{arch}", 1)
                   if path == default_teacher_path(arch, dataset, classes)
                   else path.with_name(path.stem + "_run"))
    run_dir = Path(run_dir)
    acc = train_classifier(model, train, test, epochs=epochs, run_dir=run_dir, resume=resume,
                           device=device, seed=seed, amp=amp, log=log)
    meta = {"arch": arch, "dataset": dataset, "num_classes": num_classes,
            "in_channels": spec.in_channels, "image_size": spec.image_size,
            "test_acc": acc, "epochs": epochs}
    if classes:
        meta["classes"] = list(classes)
    save_weights(model.cpu(), path, meta)
    log(f"saved teacher {arch} ({acc:.2f}% on the {dataset} test set) to {path} "
        f"(run folder {run_dir})")
    return model.to(device), meta


def load_teacher(arch: str, dataset: str, ckpt: str | Path | None = None, *,
                 data_root: str | None = None, device: str = "cpu",
                 train_if_missing: bool = False, kwargs: dict | None = None,
                 log=print) -> tuple[nn.Module, dict]:
    """Load a teacher checkpoint (or the cached one), checking it fits ``arch``/``dataset``.

    With ``train_if_missing`` and no explicit ``ckpt``, a missing cached teacher of the
    embedded default is trained first (and saved for the next run). ``arch`` may be an
    import path (``mypkg.nets:MyNet``, built with ``kwargs``); it then needs ``ckpt``.
    """
    spec = get_spec(dataset, data_root)
    if is_import_path(arch) and not ckpt:
        raise CheckpointError(f"the teacher {arch} needs its weights: give teacher: {{class: "
                              f"{arch}, ckpt: PATH}} in the config, or --teacher-ckpt PATH")
    path = Path(ckpt) if ckpt else default_teacher_path(arch, dataset)
    model = build_model(arch, in_channels=spec.in_channels, num_classes=spec.num_classes,
                        kwargs=kwargs)  # a model of one's own that cannot be built fails first
    if is_import_path(arch) and not path.exists():
        raise CheckpointError(f"no teacher checkpoint at {path}: give the weights file of your "
                              f"{arch} (teacher: {{class: ..., ckpt: PATH}} or --teacher-ckpt)")
    if not path.exists():
        if train_if_missing and not ckpt and (arch, dataset) == EMBEDDED_DEFAULT:
            log(f"no teacher at {path}: training {arch} on {dataset} first (about 2 minutes)")
            return train_teacher(arch, dataset, path, data_root=data_root, device=device,
                                 resume=True, log=log)  # an interrupted one continues
        raise CheckpointError(
            f"no teacher checkpoint at {path}. Fix: python tools/train_teacher.py --model {arch} "
            f"--dataset {dataset}, or pass --teacher-ckpt PATH")
    meta = load_weights(model, path, arch)
    for key, wanted in (("arch", arch), ("dataset", dataset)):
        if meta.get(key) not in (None, wanted):
            raise CheckpointError(f"{path} holds a {meta['arch']} teacher trained on "
                                  f"{meta['dataset']}, but --teacher {arch} --dataset {dataset} "
                                  "was asked for: pass the matching flags or another checkpoint")
    model.to(device).eval()
    check_input_size(model, f"the teacher {arch}", spec, device)
    if "test_acc" not in meta:
        meta["test_acc"] = accuracy(model, load_tensors(dataset, data_root), device=device)
    return model, meta

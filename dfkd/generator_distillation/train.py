"""Compress a pix2pix/CycleGAN generator with GAN Compression (``tools/compress_gan.py``).

The teacher is a ``latest_net_G.pth`` (pix2pix, paired task) or ``latest_net_G_A.pth`` /
``latest_net_G_B.pth`` (CycleGAN, unpaired task; ``G_B`` translates B → A) as the original
code saves it; its architecture is read off the file. The student is the same
architecture with ``--student-ngf`` filters, started from the teacher by L1 channel
selection (``options.student_init``, as the official GAN Compression code does; not again
on ``--resume``); the discriminator from the teacher's ``latest_net_D*.pth`` beside it.
The run folder holds the loop's ``latest.pt``/``best.pt`` (exact ``--resume``),
``metrics.json`` (PSNR/SSIM to the teacher's outputs and, paired, to the targets; FID
against real target images),
TensorBoard (losses, quality, input | teacher | student grids) and ``latest_net_G.pth``,
the student in the original format.

Instead of an embedded task, a dataset folder in the original layout: ``--dataroot DIR
--dataset-mode aligned`` (``DIR/train/``, ``DIR/test/`` or ``val/``: A|B images side by
side; paired, pix2pix) or ``unaligned`` (``DIR/trainA/ trainB/ testA/ testB/``; CycleGAN),
with the original preprocessing (``--direction --load-size --crop-size --no-flip
--serial-batches``; ``dfkd.data.image_folders``), from ``configs/compress/<dataset-mode>.yaml``.
The images are read with the teacher's channel counts (grayscale when it takes 1);
evaluation is on the test split (PSNR/SSIM to the targets only when aligned; FID needs
``fid.inception_weights``).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch.nn as nn

from dfkd.cli import build_gan_config, parse_gan_student_args, with_method_options
from dfkd.core.config import to_dict
from dfkd.core.errors import CheckpointError, ConfigError
from dfkd.core.io import write_json
from dfkd.data.gan_tasks import PAIRED_TASKS, UNCONDITIONAL_TASKS, load_gan_task, resolve_task
from dfkd.data.image_folders import check_folder_config
from dfkd.engine import AdversarialLoop, Player, seed_everything
from dfkd.engine.run import prepare_device
from dfkd.engine.run_folder import check_out, resume_if_asked, run_checkpoints, start_run
from dfkd.gan.evaluation import (
    NO_FOLDER_FID,
    compare,
    folder_features,
    generate,
    task_features,
    task_fid,
)
from dfkd.gan.setup import GANSetup, TranslationData, folder_translation
from dfkd.generator_distillation.config import CompressConfig
from dfkd.generator_distillation.registry import METHODS
from dfkd.metrics.cost import teacher_student_cost
from generators.gan_checkpoint import (
    discriminator_beside,
    load_discriminator_state,
    load_pix2pix_state,
    save_pix2pix_state,
)
from generators.pix2pix import define_D, define_G, distill_layers


def main(argv: list[str] | None = None) -> int:
    args = parse_gan_student_args(argv, __doc__, "edges2fashion")
    flags = {"teacher_ckpt": args.teacher_ckpt, "student_ngf": args.student_ngf}
    if resolve_task(args.task) in UNCONDITIONAL_TASKS:
        raise ConfigError(f"GAN Compression distils a pix2pix/CycleGAN generator; task "
                          f"{args.task} is a DCGAN's: distil it with tools/distill_gan.py")
    cfg = build_gan_config(CompressConfig(), "compress", args, flags)
    cfg = with_method_options(cfg, METHODS)
    task = cfg.task
    if not task:
        check_folder_config(cfg.data)
    device = prepare_device(cfg.train)
    data_name = f"task {task}" if task else f"{cfg.data.dataroot} ({cfg.data.dataset_mode})"
    out = Path(args.out or f"runs/compress_{task or Path(cfg.data.dataroot).name}")
    check_out(out, args.resume)
    teacher_path = Path(cfg.teacher_ckpt)
    if not teacher_path.exists():
        how = f"--task {task}" if task else (f"--dataroot {cfg.data.dataroot} --dataset-mode "
                                             f"{cfg.data.dataset_mode}")
        raise CheckpointError(f"no teacher generator at {teacher_path}; train one with "
                              f"python tools/train_gan.py {how}, or pass the "
                              "latest_net_G*.pth of the original pix2pix/CycleGAN code")
    teacher, info = load_pix2pix_state(teacher_path, netG=args.netG, device=device)
    if task:
        data, test_inputs, test_targets = task_data(task, cfg, teacher_path, task in PAIRED_TASKS)
    else:
        data, test_inputs, test_targets = folder_data(cfg, info, teacher_path)
    check_channels(info, data.inputs, data.targets, f"{teacher_path}", data_name)
    seed_everything(cfg.train.seed)
    student = define_G(**{**info, "ngf": cfg.student_ngf}).to(device)
    discriminator, d_source = build_discriminator(cfg, teacher_path, data.paired, data.inputs,
                                                  data.targets, device)
    features = (task_features(cfg.fid, cfg.data_root or None, device) if task
                else folder_features(cfg.fid, device))
    if features is None and not task:
        print(NO_FOLDER_FID)
    compress_run(cfg, teacher, info, student, discriminator, d_source, data, test_inputs,
                 test_targets, features, out, args.resume, teacher_name=str(teacher_path))
    return 0


def check_channels(info: dict, inputs, targets, teacher: str, data: str) -> None:
    """The teacher's channels (``info`` of ``load_pix2pix_state``) against the data's."""
    if inputs.shape[1] != info["input_nc"] or targets.shape[1] != info["output_nc"]:
        raise CheckpointError(
            f"{teacher} maps {info['input_nc']} to {info['output_nc']} channels but {data} "
            f"has {inputs.shape[1]}-channel inputs and {targets.shape[1]}-channel targets: "
            "pass the teacher trained on this data")


def compress_run(cfg: CompressConfig, teacher: nn.Module, info: dict, student: nn.Module,
                 discriminator: nn.Module, d_source: str, data: TranslationData,
                 test_inputs, test_targets, features, out: Path, resume: bool, *,
                 teacher_name: str) -> nn.Module:
    """Distil ``teacher`` (a pix2pix/CycleGAN generator of architecture ``info``) into
    ``student`` against ``discriminator`` on ``data``, as ``cfg`` says, in the run folder
    ``out``; ``test_targets`` None (no paired test targets) measures the student against
    the teacher only; ``features`` None: no FID. The student is first started as the
    method's ``init_student`` says (GAN Compression: pruned from the teacher), except when
    ``resume`` finds a checkpoint, whose weights replace it anyway. Writes
    ``latest_net_G.pth`` (the original layout) and ``metrics.json``; returns the student
    in eval mode."""
    device = next(student.parameters()).device
    paired, task = data.paired, cfg.task
    options = cfg.options
    if not options.distill_layers and options.distill_weight > 0:
        options = dataclasses.replace(options, distill_layers=distill_layers(info["netG"]))
    method_cls = METHODS.get(cfg.method)
    init = getattr(method_cls, "init_student", None)
    if resume and run_checkpoints(out):
        student_source = "from the checkpoint (--resume)"
    else:
        student_source = init(teacher, student, options) if init else "as built"
    method = method_cls(teacher, student, discriminator, options, data,
                        GANSetup(cfg.train.batch_size, cfg.train.seed, device))
    layers = method.layers
    iters = cfg.train.iters
    s_player = Player.from_config("student", student, cfg.student, iters,
                                  aux=method.parts().get("student", nn.ModuleDict()))
    d_player = Player.from_config("discriminator", discriminator, cfg.discriminator, iters)
    teacher_test = generate(teacher, test_inputs, device)

    def evaluate() -> dict[str, float]:
        fake = generate(student, test_inputs, device)
        result = {f"{k}_teacher": v for k, v in compare(fake, teacher_test).items()}
        if paired and test_targets is not None:
            result.update(compare(fake, test_targets))
        if test_targets is not None:
            result.update(task_fid(fake, test_targets, features))
        return result

    cost = teacher_student_cost(teacher, student, data.inputs[:1].to(device))
    logger = start_run(out, cfg)
    print(f"teacher {teacher_name}: {info['netG']} ngf {info['ngf']} ({cost['teacher_params']:,} "
          f"parameters, {cost['teacher_macs'] / 1e6:.1f} M MACs per image); student ngf "
          f"{cfg.student_ngf} ({cost['student_params']:,}, {cost['student_macs'] / 1e6:.1f} M MACs: "
          f"{cost['teacher_macs'] / cost['student_macs']:.1f}x fewer), {student_source}; "
          f"discriminator {d_source}; "
          f"distilled layers: {', '.join(layers) or 'none'}")
    if features is not None:
        print(f"FID features: {features.name}")
    best_key, lower = ("fid", True) if features else ("psnr_teacher", False)
    loop = AdversarialLoop(
        method, s_player, d_player, iters, out, evaluate=evaluate, best_key=best_key,
        lower_is_better=lower, eval_every=cfg.train.eval_every, log_every=cfg.train.log_every,
        image_every=cfg.train.image_every, logger=logger,
        identity={"method": cfg.method, "task": task, "teacher": teacher_name,
                  "student_ngf": cfg.student_ngf}, amp=cfg.train.amp)
    resume_if_asked(loop, out, resume)
    final = loop.run()
    logger.close()
    save_pix2pix_state(student, out / "latest_net_G.pth")
    write_json(out / "metrics.json", {
        "method": cfg.method, "task": task, "teacher": teacher_name, **final,
        **cost, f"best_{best_key}": loop.best, "iters": loop.iteration,
        "seconds": round(loop.seconds, 2),
        "cpu_seconds": round(loop.cpu_seconds, 2),
        "fid_features": features.name if features else None,
        "distill_layers": layers, "discriminator": d_source,
        "student_init": getattr(options, "student_init", None), "history": loop.history,
        "config": to_dict(cfg)})
    print(" ".join(f"{k}={v:.4g}" for k, v in final.items())
          + f" iters={loop.iteration} seconds={loop.seconds:.1f}")
    print(f"student: {out / 'latest_net_G.pth'}  (TensorBoard: tensorboard --logdir {out / 'tb'})")
    return student.eval()


def task_data(task: str, cfg: CompressConfig, teacher_path: Path, paired: bool):
    """Training inputs and targets (paired) or target-domain reals (unpaired), and the
    first ``eval_pairs`` of each for testing; a CycleGAN ``G_B`` file translates B → A, so
    its domains are swapped."""
    root = cfg.data_root or None
    train, test = load_gan_task(task, root, train=True), load_gan_task(task, root, train=False)
    if not paired and "G_B" in teacher_path.name:
        train, test = train[::-1], test[::-1]
    n = cfg.train.eval_pairs
    return TranslationData(train[0], train[1], paired), test[0][:n], test[1][:n]


def folder_data(cfg: CompressConfig, info: dict, teacher_path: Path):
    """The dataset folder of ``cfg.data``, read with the teacher's channel counts (unless
    ``data.input_nc``/``output_nc`` say otherwise: checked against the teacher after); a
    CycleGAN ``G_B`` file translates B → A and needs ``--direction BtoA``."""
    folder = cfg.data
    if "G_B" in teacher_path.name and folder.direction != "BtoA":
        raise ConfigError(f"{teacher_path.name} is CycleGAN's G_B, which translates B -> A: "
                          "pass --direction BtoA (or the G_A file for A -> B)")
    return folder_translation(folder, folder.input_nc or info["input_nc"],
                              folder.output_nc or info["output_nc"], cfg.train.seed,
                              cfg.train.eval_pairs)


def build_discriminator(cfg: CompressConfig, teacher_path: Path, paired: bool, inputs, targets,
                        device) -> tuple[nn.Module, str]:
    """D from the teacher's file (``auto``: the ``latest_net_D*.pth`` beside the generator,
    if there is one), else a fresh PatchGAN; and a description of where it came from."""
    channels = targets.shape[1] + (inputs.shape[1] if paired else 0)
    path = cfg.discriminator_ckpt
    if path == "auto":
        path = str(discriminator_beside(teacher_path) or "")
    if not path:
        return (define_D(cfg.netD, channels, ndf=cfg.ndf, n_layers_D=cfg.n_layers_D,
                         norm=cfg.norm).to(device), "fresh (no teacher discriminator)")
    model, info = load_discriminator_state(path, device)
    if info["input_nc"] != channels:
        raise CheckpointError(f"discriminator {path} takes {info['input_nc']} channels, this task "
                              f"needs {channels}; set discriminator_ckpt to the teacher's own "
                              "(latest_net_D.pth / latest_net_D_A.pth) or '' for a fresh one")
    return model, f"from {path}"

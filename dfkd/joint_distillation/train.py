"""Distil a DCGAN (``tools/distill_gan.py``, or ``tools/compress_gan.py --task dcgan``): joint G+D distillation or
Aguinaldo et al.'s pixel matching, into a student GAN of ``student_ngf``/``student_ndf``.

The teacher is the ``latest_net_G.pth`` of ``tools/train_gan.py --task dcgan`` (its nz,
ngf and channels are read off the file) and, for joint distillation, the
``latest_net_D.pth`` beside it. The run folder holds ``latest.pt``/``best.pt`` (exact
``--resume``), TensorBoard (losses, FID, teacher | student samples for the same z),
``metrics.json`` (FID of teacher and student samples against the test images, their
agreement on fixed latents, MACs and parameters) and the student's ``latest_net_G.pth``
(and ``latest_net_D.pth``).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from dfkd.cli import build_gan_config, parse_gan_student_args, with_method_options
from dfkd.core.config import to_dict
from dfkd.core.errors import CheckpointError, ConfigError
from dfkd.core.io import write_json
from dfkd.data.gan_tasks import UNCONDITIONAL_TASKS, fashion_images, resolve_task
from dfkd.engine import Player, seed_everything
from dfkd.engine.run_folder import start_run
from dfkd.gan.evaluation import (
    FeatureExtractor,
    compare,
    generate,
    latent_bank,
    task_features,
    task_fid,
)
from dfkd.gan.setup import GANSetup
from dfkd.joint_distillation.config import JointConfig
from dfkd.joint_distillation.joint import TeacherGAN
from dfkd.joint_distillation.registry import METHODS
from dfkd.joint_distillation.run_loop import (
    run_loop,
    start_joint_run,
    teacher_discriminator,
)
from dfkd.metrics.cost import teacher_student_cost
from generators.dcgan import (
    DCGANDiscriminator,
    DCGANGenerator,
    load_dcgan_discriminator,
    load_dcgan_generator,
    save_dcgan_state,
)


def main(argv: list[str] | None = None) -> int:
    """Build and run the distillation the command line asks for."""
    args = parse_gan_student_args(argv, __doc__, "fashion")
    if resolve_task(args.task) not in UNCONDITIONAL_TASKS:
        raise ConfigError(f"joint G+D distillation distils a DCGAN; task {args.task} is a "
                          "pix2pix/CycleGAN task: compress it with tools/compress_gan.py")
    cfg = build_gan_config(JointConfig(), "compress", args,
                           {"teacher_ckpt": args.teacher_ckpt, "student_ngf": args.student_ngf})
    cfg = with_method_options(cfg, METHODS)
    if getattr(METHODS.get(cfg.method), "conditional", False):  # ppcd: a conditional teacher
        from dfkd.joint_distillation.ppcd_run import conditional_main
        return conditional_main(cfg, args)
    device, out, teacher_path = start_joint_run(cfg, args, "a DCGAN",
                                                "python tools/train_gan.py --task dcgan")
    teacher_g, info = load_dcgan_generator(teacher_path, device)
    teacher_d, d_source = teacher_discriminator(cfg, teacher_path, device,
                                                load_dcgan_discriminator, "d_distill_weight: 0")
    root = cfg.data_root or None
    images = fashion_images(root, train=True)
    test = fashion_images(root, train=False)[:cfg.train.eval_pairs]
    if images.shape[1] != info["nc"]:
        raise CheckpointError(f"{teacher_path} makes {info['nc']}-channel images, the task's "
                              f"have {images.shape[1]}: pass the teacher trained on this task")
    features = task_features(cfg.fid, root, device)
    if features is None:
        raise ConfigError("GAN distillation is judged by FID: set fid.classifier or "
                          "fid.inception_weights")
    joint_run(cfg, teacher_g, info, teacher_d, d_source, images, test, features, out,
              args.resume, str(teacher_path))
    return 0


def joint_run(cfg: JointConfig, teacher_g: nn.Module, info: dict, teacher_d: nn.Module | None,
              d_source: str, images: torch.Tensor, test: torch.Tensor,
              features: FeatureExtractor | None, out: Path, resume: bool,
              teacher_name: str) -> nn.Module:
    """Distill the DCGAN ``teacher_g`` (``info``: its nz, ngf, nc; ``teacher_d`` the
    teacher's discriminator where the method uses one) on the real ``images`` ([-1, 1]) into
    a generator of ``cfg.student_ngf`` (and, for methods with an adversary, a discriminator
    of ``cfg.student_ndf``), in the run folder ``out``. Each evaluation compares the student
    with the teacher on ``len(test)`` fixed latents and, given ``features``, measures FID
    against ``test`` (the kept ``best.pt``: lowest FID, else lowest L1 to the teacher).
    Returns the student generator, in eval mode."""
    device = next(teacher_g.parameters()).device
    seed_everything(cfg.train.seed)
    student_g = DCGANGenerator(info["nz"], cfg.student_ngf, info["nc"]).to(device)
    method_class = METHODS.get(cfg.method)
    student_d = (DCGANDiscriminator(cfg.student_ndf, info["nc"]).to(device)
                 if method_class.has_adversary else None)
    method = method_class(TeacherGAN(teacher_g, teacher_d), student_g, student_d, cfg.options,
                          images, GANSetup(cfg.train.batch_size, cfg.train.seed, device))
    iters = cfg.train.iters
    s_player = Player.from_config("student", student_g, cfg.student, iters)
    d_player = (Player.from_config("discriminator", student_d, cfg.discriminator, iters)
                if student_d is not None else None)
    z = latent_bank(len(test), info["nz"])
    teacher_samples = generate(teacher_g, z, device)
    teacher_fid = task_fid(teacher_samples, test, features).get("fid")

    def evaluate() -> dict[str, float]:
        fake = generate(student_g, z, device)
        agreement = {f"{k}_teacher": v for k, v in compare(fake, teacher_samples).items()}
        return {**task_fid(fake, test, features), **agreement}

    cost = teacher_student_cost(teacher_g, student_g, z[:1].to(device))
    logger = start_run(out, cfg)
    quality = f", FID {teacher_fid:.2f}" if teacher_fid is not None else ""
    print(f"teacher {teacher_name}: DCGAN nz {info['nz']} ngf {info['ngf']} "
          f"({cost['teacher_params']:,} parameters, {cost['teacher_macs'] / 1e6:.1f} M MACs per "
          f"image{quality}); student ngf {cfg.student_ngf} "
          f"({cost['student_params']:,}, {cost['student_macs'] / 1e6:.1f} M MACs: "
          f"{cost['teacher_macs'] / cost['student_macs']:.1f}x fewer); method {cfg.method}; "
          f"teacher discriminator {d_source}\nFID features: "
          f"{features.name if features else 'none (the run compares with the teacher only)'}")
    loop, final = run_loop(cfg, method, s_player, d_player, out, evaluate,
                           "fid" if features else "l1_teacher", logger, teacher_name, resume)
    save_dcgan_state(student_g, out / "latest_net_G.pth")
    if student_d is not None:
        save_dcgan_state(student_d, out / "latest_net_D.pth")
    write_json(out / "metrics.json", {
        "method": cfg.method, "task": cfg.task, "teacher": teacher_name, **final,
        "teacher_fid": teacher_fid, **cost, "best_" + loop.best_key: loop.best,
        "iters": loop.iteration, "seconds": round(loop.seconds, 2),
        "cpu_seconds": round(loop.cpu_seconds, 2),
        "fid_features": features.name if features else None,
        "teacher_discriminator": d_source, "history": loop.history, "config": to_dict(cfg)})
    print(" ".join(f"{k}={v:.4g}" for k, v in final.items())
          + (f" teacher_fid={teacher_fid:.4g}" if teacher_fid is not None else "")
          + f" iters={loop.iteration} seconds={loop.seconds:.1f}")
    print(f"student: {out / 'latest_net_G.pth'}  (TensorBoard: tensorboard --logdir {out / 'tb'})")
    return student_g.eval()


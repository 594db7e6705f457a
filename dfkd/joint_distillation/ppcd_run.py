"""The run of PPCD-GAN (``tools/distill_gan.py --config configs/ppcd/fashion.yaml
--teacher-ckpt runs/conditional_dcgan_fashion/latest_net_G.pth``).

The teacher is a conditional DCGAN of ``tools/train_gan.py --config
configs/gan/fashion_conditional.yaml`` (``latest_net_G.pth``, and ``latest_net_D.pth``
beside it to start the discriminator from); the data the labelled garments. Each
evaluation measures, for fixed latents and balanced labels, the student's FID against the
test images, how often the FID classifier names the asked class (``class_acc``), the
agreement with the teacher's samples, the masks' sparsity and the MACs of the network left
after discarding masks and pruned channels. ``best.pt`` keeps the lowest FID among the
evaluations at the final sparsity (``fid_pruned``). The run folder ends with the
compacted student ``latest_net_G.pth`` (masks folded in, pruned channels gone;
``generators.ppcd_generator.load_ppres_generator`` reads it), the masked one
``latest_net_G_masked.pth``, the discriminator ``latest_net_D.pth`` and ``metrics.json``.
"""
from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch
import torch.nn as nn

from dfkd.core.config import to_dict
from dfkd.core.errors import CheckpointError, ConfigError
from dfkd.core.io import write_json
from dfkd.engine import Player, seed_everything
from dfkd.engine.run_folder import start_run
from dfkd.gan.conditional import (
    balanced,
    class_accuracy,
    conditional_samples,
    fashion_labeled,
)
from dfkd.gan.evaluation import compare, latent_bank, task_features, task_fid
from dfkd.gan.setup import GANSetup
from dfkd.joint_distillation.config import JointConfig
from dfkd.joint_distillation.joint import TeacherGAN
from dfkd.joint_distillation.ppcd_masks import final_sparsity, sparsity_of
from dfkd.joint_distillation.registry import METHODS
from dfkd.joint_distillation.run_loop import (
    run_loop,
    start_joint_run,
    teacher_discriminator,
)
from dfkd.metrics.cost import count_macs, count_parameters
from generators.conditional_dcgan import (
    FixedLabels,
    ProjectionDCGANDiscriminator,
    load_conditional_generator,
    load_projection_discriminator,
    save_conditional_state,
)
from generators.ppcd_generator import PPResGenerator, save_ppres_state


def macs(generator: nn.Module, nz: int, device) -> int:
    """MACs of one image of ``generator`` (class 0; the cost is the same for every class)."""
    z = torch.zeros(1, nz, device=device)
    return count_macs(FixedLabels(generator, torch.zeros(1, dtype=torch.long, device=device)), z)


def conditional_main(cfg: JointConfig, args: argparse.Namespace) -> int:
    """Load the conditional teacher and the labelled data named by ``cfg`` and run."""
    device, out, teacher_path = start_joint_run(
        cfg, args, "a conditional DCGAN",
        "python tools/train_gan.py --config configs/gan/fashion_conditional.yaml")
    teacher_g, info = load_conditional_generator(teacher_path, device)
    teacher_d, d_source = teacher_discriminator(cfg, teacher_path, device,
                                                load_projection_discriminator,
                                                "options.discriminator_init: scratch")
    root = cfg.data_root or None
    data = fashion_labeled(root, train=True)
    test = fashion_labeled(root, train=False).images[:cfg.train.eval_pairs]
    if (data.images.shape[1], data.num_classes) != (info["nc"], info["num_classes"]):
        raise CheckpointError(f"{teacher_path} draws {info['num_classes']} classes of "
                              f"{info['nc']}-channel images, the task has {data.num_classes} of "
                              f"{data.images.shape[1]}: pass the teacher trained on this task")
    features = task_features(cfg.fid, root, device)
    if features is None:
        raise ConfigError("GAN distillation is judged by FID: set fid.classifier or "
                          "fid.inception_weights")
    ppcd_run(cfg, teacher_g, info, teacher_d, d_source, data, test, features, out,
             args.resume, str(teacher_path))
    return 0


def ppcd_run(cfg: JointConfig, teacher_g: nn.Module, info: dict, teacher_d: nn.Module | None,
             d_source: str, data, test: torch.Tensor, features, out: Path, resume: bool,
             teacher_name: str) -> PPResGenerator:
    """Distil and prune into a PP-Res student of ``cfg.student_ngf``; returns the
    compacted student in eval mode."""
    device = next(teacher_g.parameters()).device
    seed_everything(cfg.train.seed)
    nz, nc, classes = info["nz"], info["nc"], info["num_classes"]
    student = PPResGenerator(nz, cfg.student_ngf, nc, classes).to(device)
    if teacher_d is not None:
        discriminator = copy.deepcopy(teacher_d).train().requires_grad_(True)
    else:
        discriminator = ProjectionDCGANDiscriminator(cfg.student_ndf, nc, classes).to(device)
    method = METHODS.get(cfg.method)(TeacherGAN(teacher_g, teacher_d), student, discriminator,
                                     cfg.options, data,
                                     GANSetup(cfg.train.batch_size, cfg.train.seed, device))
    iters = cfg.train.iters
    s_player = Player.from_config("student", student, cfg.student, iters)
    d_player = Player.from_config("discriminator", discriminator, cfg.discriminator, iters)
    z, labels = latent_bank(len(test), nz), balanced(len(test), classes)
    teacher_samples = conditional_samples(teacher_g, z, labels, device)
    teacher_quality = {**task_fid(teacher_samples, test, features),
                       **class_accuracy(teacher_samples, labels, features)}
    done = final_sparsity(student.masks(), cfg.options.sparsity, cfg.options.min_channels)

    def evaluate() -> dict[str, float]:
        fake = conditional_samples(student, z, labels, device)
        agreement = {f"{k}_teacher": v for k, v in compare(fake, teacher_samples).items()}
        sparsity = sparsity_of(student.masks())
        result = {**task_fid(fake, test, features), **class_accuracy(fake, labels, features),
                  **agreement, "sparsity": sparsity,
                  "student_macs": float(macs(student.compact(), nz, device))}
        if "fid" in result and sparsity >= done - 1e-9:  # best.pt: a fully pruned student
            result["fid_pruned"] = result["fid"]
        return result

    teacher_macs, start_macs = macs(teacher_g, nz, device), macs(student.compact(), nz, device)
    logger = start_run(out, cfg)
    fid_text = (f", FID {teacher_quality['fid']:.2f}" if "fid" in teacher_quality else "")
    print(f"teacher {teacher_name}: conditional DCGAN nz {nz} ngf {info['ngf']} {classes} classes "
          f"({count_parameters(teacher_g):,} parameters, {teacher_macs / 1e6:.2f} M MACs per "
          f"image{fid_text}); student PP-Res ngf {cfg.student_ngf} "
          f"({count_parameters(student):,} parameters, {start_macs / 1e6:.2f} M MACs before "
          f"pruning, sparsity {cfg.options.sparsity:g} by iteration {cfg.options.prune_end}); "
          f"method {cfg.method}; discriminator {d_source if teacher_d is not None else 'new'}"
          f"\nFID features: {features.name}")
    loop, final = run_loop(cfg, method, s_player, d_player, out, evaluate, "fid_pruned", logger,
                           teacher_name, resume)
    compact = student.compact().eval()
    save_ppres_state(compact, out / "latest_net_G.pth")
    save_conditional_state(student, out / "latest_net_G_masked.pth")
    save_conditional_state(discriminator, out / "latest_net_D.pth")
    cost = {"teacher_macs": teacher_macs, "student_macs": macs(compact, nz, device),
            "student_macs_before_pruning": start_macs,
            "teacher_params": count_parameters(teacher_g), "student_params":
            count_parameters(compact), "student_widths": compact.widths}
    write_json(out / "metrics.json", {
        "method": cfg.method, "task": cfg.task, "teacher": teacher_name, **final,
        **{f"teacher_{k}": v for k, v in teacher_quality.items()}, **cost,
        "best_" + loop.best_key: loop.best, "iters": loop.iteration,
        "seconds": round(loop.seconds, 2),
        "cpu_seconds": round(loop.cpu_seconds, 2), "fid_features": features.name,
        "teacher_discriminator": d_source, "history": loop.history, "config": to_dict(cfg)})
    print(" ".join(f"{k}={v:.4g}" for k, v in final.items())
          + "".join(f" teacher_{k}={v:.4g}" for k, v in teacher_quality.items())
          + f" teacher_macs={teacher_macs} student_macs={cost['student_macs']}"
          + f" iters={loop.iteration} seconds={loop.seconds:.1f}")
    print(f"student: {out / 'latest_net_G.pth'} (compacted, widths {compact.widths})  "
          f"(TensorBoard: tensorboard --logdir {out / 'tb'})")
    return compact

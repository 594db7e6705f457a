"""Joint G+D distillation from Python, on a DCGAN and images of one's own::

    import dfkd
    small_g = dfkd.joint_distillation.distill(teacher_g, teacher_d, images=x, student_ngf=16,
                                              out="runs/small_gan")

The run is the one ``tools/distill_gan.py`` makes (same loop, run folder, ``--resume``,
TensorBoard, ``metrics.json``, the student's ``latest_net_G.pth``/``latest_net_D.pth`` and
errors); the teacher GAN and the real images come from the caller.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from dfkd.cli import with_method_options
from dfkd.core.config import CONFIG_DIR, build_config, merge, validate
from dfkd.core.errors import ConfigError
from dfkd.engine.run import resolve_device
from dfkd.engine.run_folder import check_out
from dfkd.gan.evaluation import FIDConfig, task_features
from dfkd.joint_distillation.config import JointConfig
from dfkd.joint_distillation.registry import METHODS
from dfkd.joint_distillation.train import joint_run
from generators.dcgan import load_dcgan_discriminator, load_dcgan_generator

DEFAULT_CONFIG = CONFIG_DIR / "compress" / "fashion.yaml"


def distill(teacher_g: nn.Module | str | Path, teacher_d: nn.Module | str | Path | None = None,
            *, images: torch.Tensor, student_ngf: int | None = None,
            student_ndf: int | None = None, method: str = "generic_joint",
            test_images: torch.Tensor | None = None, out: str | Path | None = None,
            iters: int | None = None, options: dict[str, Any] | None = None,
            config: str | Path | dict[str, Any] | None = None, device: str = "cpu",
            seed: int | None = None, resume: bool = False) -> nn.Module:
    """Distill the DCGAN ``teacher_g`` (a ``generators.dcgan.DCGANGenerator`` or its
    ``latest_net_G.pth``) into one of ``student_ngf`` filters; returns the student
    generator, in eval mode.

    ``method``: ``generic_joint`` (a student discriminator of ``student_ndf`` learns the GAN loss
    plus the teacher discriminator ``teacher_d``'s outputs; needed unless
    ``options.d_distill_weight`` is 0) or ``aguinaldo`` (the generator alone, pixel
    matching). ``images``: real training images (N, C, 32, 32) in [-1, 1]. Each evaluation
    compares the student with the teacher on fixed latents (L1/PSNR/SSIM); FID against
    ``test_images`` (default: the first ``train.eval_pairs`` training images) is measured
    when ``config`` names its features (``fid.inception_weights``, or ``fid.classifier``
    for images like Fashion-MNIST's). ``config``: a YAML file or a mapping of config keys over
    ``configs/compress/fashion.yaml`` (printed); ``options``: the method's own
    (``gan_mode``, ``gan_weight``, ``pixel_weight``, ``d_distill_weight``).
    """
    cfg = _config(method, config, student_ngf, student_ndf, iters, seed, device, options)
    device_ = resolve_device(cfg.train.device)
    out = Path(out or f"runs/{method}_ngf{cfg.student_ngf}")
    check_out(out, resume)
    name = str(teacher_g) if isinstance(teacher_g, (str, Path)) else type(teacher_g).__name__
    generator, info = load_dcgan_generator(_state(teacher_g), device_)
    discriminator, d_source = None, "not used"
    if METHODS.get(cfg.method).uses_teacher_discriminator(cfg.options):
        if teacher_d is None:
            raise ConfigError(f"method {cfg.method} distils the teacher's discriminator too: "
                              "pass teacher_d, or options={'d_distill_weight': 0}")
        discriminator, _ = load_dcgan_discriminator(_state(teacher_d), device_)
        d_source = (f"from {teacher_d}" if isinstance(teacher_d, (str, Path))
                    else f"the given {type(teacher_d).__name__}")
    _check_images(images, "images", info["nc"])
    test = images[:cfg.train.eval_pairs] if test_images is None else test_images
    _check_images(test, "test_images", info["nc"])
    features = task_features(cfg.fid, None, device_) if _names_features(config) else None
    return joint_run(cfg, generator, info, discriminator, d_source, images, test, features,
                     out, resume, name)


def _state(given):
    return given if isinstance(given, (str, Path)) else given.state_dict()


def _names_features(config) -> bool:
    """Whether the caller's config chose FID features (the embedded default's Fashion-MNIST
    classifier would mean nothing for images of one's own)."""
    if isinstance(config, dict):
        return bool(config.get("fid"))
    if isinstance(config, (str, Path)):
        return build_config(JointConfig(), [Path(config)]).fid != FIDConfig()
    return False


def _config(method: str, config, student_ngf, student_ndf, iters, seed, device,
            options) -> JointConfig:
    METHODS.get(method)
    overrides = config if isinstance(config, dict) else {}
    path = Path(config) if isinstance(config, (str, Path)) else DEFAULT_CONFIG
    if not isinstance(config, (str, Path)):
        print(f"config: {path} (joint G+D distillation's defaults)")
    cfg = build_config(JointConfig(), [path])
    train = {k: v for k, v in (("iters", iters), ("seed", seed), ("device", device))
             if v is not None}
    given = {**overrides, "method": method, "task": "custom", "discriminator_ckpt": "",
             "train": {**overrides.get("train", {}), **train}}
    for key, value in (("student_ngf", student_ngf), ("student_ndf", student_ndf)):
        if value is not None:
            given[key] = value
    if options is not None:
        given["options"] = {**cfg.options, **overrides.get("options", {}), **options}
    return with_method_options(validate(merge(cfg, given)), METHODS)


def _check_images(images, what: str, channels: int) -> None:
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ConfigError(f"{what} must be a tensor of images (N, C, 32, 32) in [-1, 1]")
    if tuple(images.shape[1:]) != (channels, 32, 32):
        raise ConfigError(f"{what} are {tuple(images.shape[1:])}; the DCGAN makes "
                          f"{(channels, 32, 32)} images")

"""GAN Compression from Python, on a pix2pix/CycleGAN generator and images of one's own::

    import dfkd
    small_g = dfkd.generator_distillation.compress(teacher_g, student_ngf=16, inputs=edges,
                                                   targets=photos, out="runs/small_g")

The run is the one ``tools/compress_gan.py`` makes (same loop, run folder, ``--resume``,
TensorBoard, ``metrics.json``, ``latest_net_G.pth`` in the original layout, and errors);
the teacher, the discriminator and the images come from the caller.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from dfkd.cli import with_method_options
from dfkd.core.config import CONFIG_DIR, build_config, merge, validate
from dfkd.core.errors import ConfigError
from dfkd.core.io import seed_everything
from dfkd.core.modes import eval_mode
from dfkd.engine.run import resolve_device
from dfkd.engine.run_folder import check_out
from dfkd.gan.setup import TranslationData
from dfkd.generator_distillation.config import CompressConfig
from dfkd.generator_distillation.registry import METHODS
from dfkd.generator_distillation.train import check_channels, compress_run
from generators.gan_checkpoint import (
    discriminator_beside,
    load_discriminator_state,
    load_pix2pix_state,
)
from generators.pix2pix import define_D, define_G

#: the embedded tasks whose configs are the defaults for paired / unpaired images
DEFAULT_TASK = {True: "edges2fashion", False: "sneaker2boot"}


def compress(teacher: nn.Module | str | Path, *, inputs: torch.Tensor, targets: torch.Tensor,
             paired: bool = True, student_ngf: int | None = None,
             discriminator: nn.Module | str | Path | None = None,
             test_inputs: torch.Tensor | None = None,
             test_targets: torch.Tensor | None = None, method: str = "gan_compression",
             out: str | Path | None = None, iters: int | None = None,
             options: dict[str, Any] | None = None,
             config: str | Path | dict[str, Any] | None = None, device: str = "cpu",
             seed: int | None = None, resume: bool = False) -> nn.Module:
    """Compress ``teacher`` (a pix2pix/CycleGAN generator, or its ``latest_net_G*.pth``)
    into the same architecture with ``student_ngf`` filters; returns the student, in eval
    mode.

    Images are tensors in [-1, 1], (N, C, H, W): ``inputs[i]`` → ``targets[i]`` when
    ``paired`` (pix2pix), else ``targets`` are real images of the target domain (CycleGAN).
    ``discriminator``: the teacher's (a module or its ``latest_net_D*.pth``); when None and
    ``teacher`` is a file, the ``latest_net_D*.pth`` beside it if there is one (as the tool
    does), else a fresh PatchGAN. The student starts pruned from the teacher (L1 channel
    selection, ``options={"student_init": "scratch"}`` for random weights). ``test_inputs``
    (default: the first ``train.eval_pairs`` inputs) are where the student is compared with
    the teacher; ``test_targets`` add PSNR/SSIM to the targets
    (paired). ``config``: a YAML file or a mapping of config keys over the embedded task's
    config (edges2fashion for paired images, sneaker2boot for unpaired ones; printed);
    ``options``: the method's own (``gan_mode``, ``recon_weight``, ...).
    """
    cfg = _config(method, config, paired, student_ngf, iters, seed, device, options)
    device_ = resolve_device(cfg.train.device)
    out = Path(out or f"runs/{method}_ngf{cfg.student_ngf}")
    check_out(out, resume)
    if discriminator is None and isinstance(teacher, (str, Path)):
        discriminator = discriminator_beside(teacher)
    name = str(teacher) if isinstance(teacher, (str, Path)) else type(teacher).__name__
    source = teacher if isinstance(teacher, (str, Path)) else teacher.state_dict()
    teacher, info = load_pix2pix_state(source, device=device_)
    _check_images(inputs, targets, paired)
    check_channels(info, inputs, targets, f"the teacher {name}", "the images")
    test_inputs = inputs[:cfg.train.eval_pairs] if test_inputs is None else test_inputs
    seed_everything(cfg.train.seed)
    student = define_G(**{**info, "ngf": cfg.student_ngf}).to(device_)
    d, d_source = _discriminator(discriminator, cfg, inputs, targets, paired, device_)
    _check_sizes(teacher, d, inputs, paired, device_)
    return compress_run(cfg, teacher, info, student, d, d_source,
                        TranslationData(inputs, targets, paired), test_inputs, test_targets,
                        None, out, resume, teacher_name=name)


def _config(method: str, config, paired: bool, student_ngf, iters, seed, device,
            options) -> CompressConfig:
    METHODS.get(method)
    overrides = config if isinstance(config, dict) else {}
    if isinstance(config, (str, Path)):
        path = Path(config)
    else:
        path = CONFIG_DIR / "compress" / f"{DEFAULT_TASK[paired]}.yaml"
        print(f"config: {path} (the {'paired' if paired else 'unpaired'} embedded task's)")
    cfg = build_config(CompressConfig(), [path])
    train = {k: v for k, v in (("iters", iters), ("seed", seed), ("device", device))
             if v is not None}
    given = {**overrides, "method": method, "discriminator_ckpt": "",
             "train": {**overrides.get("train", {}), **train}}
    if student_ngf is not None:
        given["student_ngf"] = student_ngf
    if options is not None:
        given["options"] = {**cfg.options, **overrides.get("options", {}), **options}
    return with_method_options(validate(merge(cfg, given)), METHODS)


def _check_images(inputs: torch.Tensor, targets: torch.Tensor, paired: bool) -> None:
    for what, images in (("inputs", inputs), ("targets", targets)):
        if not isinstance(images, torch.Tensor) or images.dim() != 4:
            raise ConfigError(f"{what} must be a tensor of images (N, C, H, W) in [-1, 1]")
    if paired and len(inputs) != len(targets):
        raise ConfigError(f"paired images need as many targets as inputs: {len(inputs)} "
                          f"inputs, {len(targets)} targets (unpaired data: paired=False)")


def _discriminator(given, cfg: CompressConfig, inputs, targets, paired: bool,
                   device) -> tuple[nn.Module, str]:
    """The teacher's discriminator (a module or a file), else a fresh PatchGAN taking
    (input, image) pairs when ``paired``."""
    channels = targets.shape[1] + (inputs.shape[1] if paired else 0)
    if given is None:
        return (define_D(cfg.netD, channels, ndf=cfg.ndf, n_layers_D=cfg.n_layers_D,
                         norm=cfg.norm).to(device), "fresh (none given)")
    if isinstance(given, (str, Path)):
        model, info = load_discriminator_state(given, device)
        source = f"from {given}"
    else:
        model, info = load_discriminator_state(given.state_dict(), device)
        source = f"the given {type(given).__name__}"
    if info["input_nc"] != channels:
        raise ConfigError(f"the discriminator takes {info['input_nc']} channels, these images "
                          f"need {channels} ({'input + target' if paired else 'target'})")
    return model, source


def _check_sizes(teacher: nn.Module, discriminator: nn.Module, inputs: torch.Tensor,
                 paired: bool, device) -> None:
    """One image through the teacher and the discriminator (eval mode, no graph), so that
    images too small for either fail here with the fix, not mid-run."""
    x = inputs[:1].to(device)
    try:
        with eval_mode(teacher, discriminator), torch.no_grad():
            y = teacher(x)
            discriminator(torch.cat([x, y], 1) if paired else y)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0][:160]
        raise ConfigError(f"images of {tuple(inputs.shape[1:])} are too small for the teacher "
                          f"or the PatchGAN ({first}): use larger images (pix2pix: 256, at "
                          "least 32) or a discriminator with fewer layers") from None

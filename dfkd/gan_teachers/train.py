"""Train a pix2pix, CycleGAN or DCGAN teacher (``tools/train_gan.py``).

``--task edges2fashion`` (alias ``pix2pix``) trains pix2pix, ``--task sneaker2boot`` (alias
``cyclegan``) CycleGAN, ``--task fashion`` (alias ``dcgan``) an unconditional DCGAN, each
from ``configs/gan/<task>.yaml`` unless ``--config`` is given; the config's ``options:``
are that model's (e.g. ``--set options.l1_weight=50``). Instead of a task, a dataset folder
in the original layout (``--dataroot DIR --dataset-mode aligned|unaligned``, the config's
``data:``; ``dfkd.data.image_folders``) trains pix2pix (aligned) or CycleGAN (unaligned)
from ``configs/gan/<dataset-mode>.yaml``; FID there needs ``fid.inception_weights``.
The run folder holds the loop's ``latest.pt``/``best.pt`` (exact ``--resume``),
``metrics.json``, TensorBoard (losses, test-set quality, image grids) and, at the end, the
networks in the original code's files: ``latest_net_G.pth``/``latest_net_D.pth`` (pix2pix),
``latest_net_G_A.pth``/``_G_B``/``_D_A``/``_D_B`` (CycleGAN), which
``generators.gan_checkpoint`` and that code load; a DCGAN's ``latest_net_G.pth``/``_D``
as the DCGAN example saves its nets (``generators.dcgan`` loads them).
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch
import torch.nn as nn

from dfkd.cli import add_gan_args, build_gan_config
from dfkd.core.config import read_options, to_dict
from dfkd.core.errors import ConfigError
from dfkd.core.io import write_json
from dfkd.data.gan_tasks import PAIRED_TASKS, UNCONDITIONAL_TASKS, fashion_images, load_gan_task
from dfkd.data.image_folders import check_folder_config
from dfkd.engine import AdversarialLoop, Player, seed_everything
from dfkd.engine.run import prepare_device
from dfkd.engine.run_folder import check_out, resume_if_asked, start_run
from dfkd.gan.evaluation import (
    NO_FOLDER_FID,
    compare,
    folder_features,
    generate,
    latent_bank,
    task_features,
    task_fid,
)
from dfkd.gan.setup import GANSetup, TranslationData, folder_translation
from dfkd.gan_teachers.conditional_dcgan import build_conditional_dcgan
from dfkd.gan_teachers.config import GANConfig
from dfkd.gan_teachers.registry import METHODS
from generators.dcgan import DCGANDiscriminator, DCGANGenerator, save_dcgan_state
from generators.gan_checkpoint import save_pix2pix_state
from generators.pix2pix import define_D, define_G


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_gan_args(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = build_gan_config(GANConfig(), "gan", args)
    task = cfg.task
    model = model_for(cfg)
    # the task names the model, whose Options the config's options: are read into
    options = read_options(METHODS.get(model).Options, cfg.options, model)
    cfg = dataclasses.replace(cfg, options=options)
    device = prepare_device(cfg.train)
    name = task or Path(cfg.data.dataroot).name
    out = Path(args.out or f"runs/{model}_{name}")
    check_out(out, args.resume)
    root = cfg.data_root or None
    features = task_features(cfg.fid, root, device) if task else folder_features(cfg.fid, device)
    seed_everything(cfg.train.seed)
    build = {"dcgan": build_dcgan, "conditional_dcgan": build_conditional_dcgan}.get(
        model, build_translation)
    nets, method, evaluate, best_key, lower = build(cfg, model, root, device, features)
    iters = cfg.train.iters
    g_player = Player.from_config("generator", nets["G"], cfg.generator, iters)
    d_player = Player.from_config("discriminator", nets["D"], cfg.discriminator, iters)
    logger = start_run(out, cfg)
    if features is not None:
        print(f"FID features: {features.name}")
    elif not task:
        print(NO_FOLDER_FID)
    loop = AdversarialLoop(
        method, g_player, d_player, iters, out, evaluate=evaluate, best_key=best_key,
        lower_is_better=lower, eval_every=cfg.train.eval_every, log_every=cfg.train.log_every,
        image_every=cfg.train.image_every, logger=logger,
        identity={"method": model, "task": task, "netG": cfg.netG, "ngf": cfg.ngf,
                  **({} if task else {"dataroot": cfg.data.dataroot})},
        amp=cfg.train.amp)
    resume_if_asked(loop, out, args.resume)
    final = loop.run()
    logger.close()
    files = save_networks(nets, model, out)
    write_json(out / "metrics.json", {
        "method": model, "task": task, **final, f"best_{best_key}": loop.best,
        "iters": loop.iteration, "seconds": round(loop.seconds, 2),
        "cpu_seconds": round(loop.cpu_seconds, 2),
        "fid_features": features.name if features else None, "history": loop.history,
        "config": to_dict(cfg)})
    print(" ".join(f"{k}={v:.4g}" for k, v in final.items())
          + f" iters={loop.iteration} seconds={loop.seconds:.1f}")
    print(f"generator: {files[0]}  (TensorBoard: tensorboard --logdir {out / 'tb'})")
    return 0


def model_for(cfg: GANConfig) -> str:
    """The config's ``model`` (conditional_dcgan on the garments), else the model of its
    task, or of its dataset folder: pix2pix when aligned, CycleGAN when unaligned."""
    if cfg.model:
        METHODS.get(cfg.model)  # an unknown name: one error listing the models
        replaces = "dcgan" if cfg.model == "conditional_dcgan" else cfg.model
        if not cfg.task or model_for_task(cfg.task) != replaces:
            raise ConfigError(f"model {cfg.model!r} does not train task {cfg.task!r}: leave "
                              "model empty for the task's own; conditional_dcgan trains task "
                              f"{', '.join(UNCONDITIONAL_TASKS)}")
        return cfg.model
    if cfg.task:
        return model_for_task(cfg.task)
    check_folder_config(cfg.data)
    return "pix2pix" if cfg.data.dataset_mode == "aligned" else "cyclegan"


def model_for_task(task: str) -> str:
    """pix2pix for a paired task, DCGAN for an unconditional one, CycleGAN else."""
    if task in PAIRED_TASKS:
        return "pix2pix"
    return "dcgan" if task in UNCONDITIONAL_TASKS else "cyclegan"


def build_translation(cfg: GANConfig, model: str, root, device, features):
    """pix2pix or CycleGAN: networks, method, evaluation, and the key best.pt follows."""
    data, test_a, test_b = translation_data(cfg, root)
    nets = build_networks(cfg, model, data.inputs.shape[1], data.targets.shape[1], device)
    # no teacher: the generator(s) are the student, the discriminator(s) the adversary
    method = METHODS.get(model)(None, nets["G"], nets["D"], cfg.options, data,
                                GANSetup(cfg.train.batch_size, cfg.train.seed, device))
    if model == "pix2pix":
        def evaluate() -> dict[str, float]:
            fake = generate(nets["G"], test_a, device)
            return {**compare(fake, test_b), **task_fid(fake, test_b, features)}
        return nets, method, evaluate, "psnr", False

    def evaluate() -> dict[str, float]:
        return cycle_quality(nets["G"], test_a, test_b, features, device)
    return nets, method, evaluate, ("fid_A2B" if features else "cycle_l1_A"), True


def translation_data(cfg: GANConfig, root) -> tuple[TranslationData, torch.Tensor, torch.Tensor]:
    """Training data and the first ``eval_pairs`` test inputs/targets: of the embedded task,
    or of the dataset folder (``data.input_nc``/``output_nc``, 0: 3 channels)."""
    if not cfg.task:
        return folder_translation(cfg.data, cfg.data.input_nc or 3, cfg.data.output_nc or 3,
                                  cfg.train.seed, cfg.train.eval_pairs)
    train_a, train_b = load_gan_task(cfg.task, root, train=True)
    test_a, test_b = (t[:cfg.train.eval_pairs] for t in load_gan_task(cfg.task, root, train=False))
    return TranslationData(train_a, train_b, paired=cfg.task in PAIRED_TASKS), test_a, test_b


def build_dcgan(cfg: GANConfig, model: str, root, device, features):
    """An unconditional DCGAN: networks, method, and FID of samples for fixed latents
    against the test images (best.pt keeps the lowest)."""
    if features is None:
        raise ConfigError("a DCGAN run is judged by FID: set fid.classifier (e.g. lenet5) or "
                          "fid.inception_weights")
    images = fashion_images(root, train=True)
    test = fashion_images(root, train=False)[:cfg.train.eval_pairs]
    nets = {"G": DCGANGenerator(cfg.nz, cfg.ngf, images.shape[1]).to(device),
            "D": DCGANDiscriminator(cfg.ndf, images.shape[1]).to(device)}
    method = METHODS.get(model)(None, nets["G"], nets["D"], cfg.options, images,
                                GANSetup(cfg.train.batch_size, cfg.train.seed, device))
    z = latent_bank(len(test), cfg.nz)

    def evaluate() -> dict[str, float]:
        return task_fid(generate(nets["G"], z, device), test, features)
    return nets, method, evaluate, "fid", True


def build_networks(cfg: GANConfig, model: str, channels_a: int, channels_b: int,
                   device) -> dict[str, nn.Module]:
    """``{"G", "D"}``: pix2pix's generator and conditional discriminator, or CycleGAN's two
    of each as ``ModuleDict``s (G_A: A → B judged by D_A on B, G_B: B → A by D_B on A)."""
    def G(cin: int, cout: int) -> nn.Module:
        return define_G(cfg.netG, cin, cout, ngf=cfg.ngf, norm=cfg.norm, use_dropout=cfg.dropout)

    def D(cin: int) -> nn.Module:
        return define_D(cfg.netD, cin, ndf=cfg.ndf, n_layers_D=cfg.n_layers_D, norm=cfg.norm)

    if model == "pix2pix":
        nets = {"G": G(channels_a, channels_b), "D": D(channels_a + channels_b)}
    else:
        nets = {"G": nn.ModuleDict({"G_A": G(channels_a, channels_b), "G_B": G(channels_b, channels_a)}),
                "D": nn.ModuleDict({"D_A": D(channels_b), "D_B": D(channels_a)})}
    return {k: v.to(device) for k, v in nets.items()}


def save_networks(nets: dict[str, nn.Module], model: str, out: Path) -> list[Path]:
    """The original code's files; the first is the generator users distill."""
    if model == "cyclegan":
        named = {**{k: v for k, v in nets["G"].items()}, **{k: v for k, v in nets["D"].items()}}
    else:
        named = {"G": nets["G"], "D": nets["D"]}
    save = save_dcgan_state if model == "dcgan" else save_pix2pix_state
    paths = []
    for name, net in named.items():
        paths.append(out / f"latest_net_{name}.pth")
        save(net, paths[-1])
    return paths


def cycle_quality(generators: nn.ModuleDict, test_a, test_b, features, device) -> dict[str, float]:
    """FID of G_A(A) against real B and of G_B(B) against real A (when a feature extractor
    is given), and the cycle L1 ‖G_B(G_A(a)) − a‖₁ on the test images."""
    fake_b = generate(generators["G_A"], test_a, device)
    fake_a = generate(generators["G_B"], test_b, device)
    result = {"cycle_l1_A": compare(generate(generators["G_B"], fake_b, device), test_a)["l1"]}
    for name, fake, real in (("A2B", fake_b, test_b), ("B2A", fake_a, test_a)):
        result.update({f"{k}_{name}": v for k, v in task_fid(fake, real, features).items()})
    return result

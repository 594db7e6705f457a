"""Train a pix2pix teacher on an embedded task (``tools/train_gan.py``).

The run folder holds the loop's ``latest.pt``/``best.pt`` (exact ``--resume``),
``metrics.json``, TensorBoard (losses, L1/PSNR on test pairs, input | output | target
grids) and, at the end, ``latest_net_G.pth`` / ``latest_net_D.pth`` in the original
pix2pix code's format, which ``generators.gan_checkpoint`` (and that code) loads.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from dfkd.cli import (add_common_args, check_out, prepare_device, resume_if_asked, start_run,
                      write_json)
from dfkd.config import GANConfig, build_config, to_dict
from dfkd.data.gan_tasks import load_gan_task
from dfkd.engine import AdversarialLoop, Player, seed_everything
from dfkd.errors import ConfigError
from dfkd.image_translation import Pix2Pix, translation_quality
from generators.gan_checkpoint import save_pix2pix_state
from generators.pix2pix import define_D, define_G

PAIRED_TASKS = ("edges2fashion",)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="edges2fashion",
                        help=f"paired task for pix2pix: {', '.join(PAIRED_TASKS)}")
    parser.add_argument("--config", default=None, help="YAML config")
    parser.add_argument("--iters", type=int, default=None)
    parser.add_argument("--out", default=None, help="run folder (default runs/pix2pix_<task>)")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE")
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.task not in PAIRED_TASKS:
        raise ConfigError(f"tools/train_gan.py trains pix2pix on a paired task "
                          f"({', '.join(PAIRED_TASKS)}); got --task {args.task}")
    flags = {"task": args.task, "train.iters": args.iters, "data_root": args.data_root,
             "train.device": args.device, "train.seed": args.seed}
    cfg = build_config(GANConfig(), [args.config] if args.config else [],
                       [f"{k}={v}" for k, v in flags.items() if v is not None] + args.overrides)
    device = prepare_device(cfg.train)
    out = Path(args.out or f"runs/pix2pix_{cfg.task}")
    check_out(out, args.resume)
    inputs, targets = load_gan_task(cfg.task, cfg.data_root or None, train=True)
    test_inputs, test_targets = (t[:cfg.train.eval_pairs] for t in
                                 load_gan_task(cfg.task, cfg.data_root or None, train=False))
    channels = inputs.shape[1], targets.shape[1]
    seed_everything(cfg.train.seed)
    generator = define_G(cfg.netG, *channels, ngf=cfg.ngf, norm=cfg.norm,
                         use_dropout=cfg.dropout).to(device)
    discriminator = define_D(cfg.netD, sum(channels), ndf=cfg.ndf, n_layers_D=cfg.n_layers_D,
                             norm=cfg.norm).to(device)
    iters = cfg.train.iters
    g_player = Player.from_config("generator", generator, cfg.generator, iters)
    d_player = Player.from_config("discriminator", discriminator, cfg.discriminator, iters)
    method = Pix2Pix(generator, discriminator, inputs, targets, cfg.train.batch_size,
                     cfg.train.seed, device, cfg.gan_mode, cfg.l1_weight)
    logger = start_run(out, cfg)
    loop = AdversarialLoop(
        method, g_player, d_player, iters, out,
        evaluate=lambda: translation_quality(generator, test_inputs, test_targets, device),
        best_key="psnr", eval_every=cfg.train.eval_every, log_every=cfg.train.log_every,
        image_every=cfg.train.image_every, logger=logger,
        identity={"method": "pix2pix", "task": cfg.task, "netG": cfg.netG, "ngf": cfg.ngf})
    resume_if_asked(loop, out, args.resume)
    final = loop.run()
    logger.close()
    save_pix2pix_state(generator, out / "latest_net_G.pth")
    save_pix2pix_state(discriminator, out / "latest_net_D.pth")
    write_json(out / "metrics.json", {"method": "pix2pix", "task": cfg.task, **final,
                                      "best_psnr": loop.best, "iters": loop.iteration,
                                      "seconds": round(loop.seconds, 2),
                                      "history": loop.history, "config": to_dict(cfg)})
    print(f"test l1={final['l1']:.4f} psnr={final['psnr']:.2f} dB iters={loop.iteration} "
          f"seconds={loop.seconds:.1f}")
    print(f"generator: {out / 'latest_net_G.pth'}  (TensorBoard: tensorboard --logdir {out / 'tb'})")
    return 0

"""AFD from the command line (``tools/train_afd.py``): two peers trained online from scratch
on the real training set, each fooling its own feature-map discriminator (``afd.AFD``)."""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch.nn as nn
from torch.utils.data import TensorDataset

from dfkd.adversarial_kd.config import AFDConfig
from dfkd.adversarial_kd.registry import METHODS
from dfkd.adversarial_kd.setup import RealDataSetup
from dfkd.cli import add_common_args, config_from_flags
from dfkd.core.config import read_options, to_dict
from dfkd.core.errors import ConfigError
from dfkd.core.io import write_json
from dfkd.core.registry import UnknownNameError
from dfkd.data import get_spec, load_tensors
from dfkd.engine import AdversarialLoop, Player, seed_everything
from dfkd.engine.run import prepare_device
from dfkd.engine.run_folder import check_out, resume_if_asked, start_run
from dfkd.metrics import accuracy
from dfkd.nets import build_model
from dfkd.nets.student_file import STUDENT_FILE, save_student, student_meta


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--peers", nargs=2, default=None, metavar="MODEL", help="two models")
    parser.add_argument("--epochs", type=int, default=None, help="passes over the training set")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--config", default=None, help="YAML config (default: configs/afd/...)")
    parser.add_argument("--out", default=None, help="run folder (default runs/afd_<...>)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/latest.pt")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config key, e.g. train.seed=1")
    add_common_args(parser)
    return parser.parse_args(argv)


def load_config(args: argparse.Namespace) -> AFDConfig:
    flags = {"dataset": args.dataset, "data_root": args.data_root, "train.device": args.device,
             "train.seed": args.seed, "train.amp": args.amp, "train.epochs": args.epochs,
             "train.batch_size": args.batch_size,
             "peers": json.dumps(args.peers) if args.peers else None}
    cfg = config_from_flags(AFDConfig(), "afd", args.dataset, args, flags)
    if cfg.dataset != args.dataset:
        raise ConfigError("set the dataset with --dataset, not in the config")
    if len(cfg.peers) != 2:
        raise ConfigError(f"AFD trains exactly two peers, got {len(cfg.peers)}: set peers to two "
                          "model names, e.g. [lenet5, lenet5_half]")
    return dataclasses.replace(cfg, options=read_options(METHODS.get("afd").Options,
                                                         cfg.options, "afd"))


def build_peers(names: list[str], in_channels: int, num_classes: int) -> nn.ModuleDict:
    """The peers, keyed "0", "1"; an unknown model name is a :class:`ConfigError`."""
    peers = {}
    for i, name in enumerate(names):
        try:
            peers[str(i)] = build_model(name, in_channels=in_channels, num_classes=num_classes)
        except UnknownNameError as exc:
            raise ConfigError(f"peers[{i}]: {exc} Set peers (or --peers) to model names") from None
    return nn.ModuleDict(peers)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = load_config(args)
    out = Path(args.out or f"runs/afd_{'_'.join(cfg.peers)}_{cfg.dataset}")
    device = prepare_device(cfg.train)
    check_out(out, args.resume)
    root = cfg.data_root or None
    spec = get_spec(cfg.dataset, root)
    train = load_tensors(cfg.dataset, root, train=True)
    if cfg.train.train_subset:
        train = TensorDataset(*(t[:cfg.train.train_subset] for t in train.tensors))
    test_set = load_tensors(cfg.dataset, root, train=False)
    seed_everything(cfg.train.seed)
    built = build_peers(cfg.peers, spec.in_channels, spec.num_classes).to(device)
    # peer 0 in the teacher slot, peer 1 in the student's; None: AFD builds its discriminators
    method = METHODS.get("afd")(built["0"], built["1"], None, cfg.options, train,
                                RealDataSetup(cfg.train.batch_size, cfg.train.seed, device))
    peers = method.peers
    iters = cfg.train.epochs * method.steps_per_epoch
    player = Player.from_config("peer", peers, cfg.peer, iters,
                                aux=nn.ModuleDict({"transfers": method.transfers}))
    adversary = Player.from_config("discriminator", method.discriminators, cfg.discriminator,
                                   iters)
    evaluated = player.ema.module if player.ema else peers
    keys = [f"acc_{i}_{name}" for i, name in enumerate(cfg.peers)]

    def evaluate() -> dict[str, float]:
        accs = {k: accuracy(evaluated[str(i)], test_set, device=device)
                for i, k in enumerate(keys)}
        return {**accs, "acc": accs[keys[-1]]}

    logger = start_run(out, cfg)
    loop = AdversarialLoop(
        method, player, adversary, iters, out, evaluate=evaluate,
        eval_every=method.steps_per_epoch, log_every=cfg.train.log_every,
        image_every=method.steps_per_epoch, logger=logger,
        identity={"method": "afd", "dataset": cfg.dataset, "peers": cfg.peers,
                  "peer_layers": method.layers}, amp=cfg.train.amp)
    resume_if_asked(loop, out, args.resume)
    final = loop.run()
    logger.close()
    epochs = loop.iteration / method.steps_per_epoch
    # the deliverable: the last peer (the small one, [lenet5, lenet5_half] by default) as
    # student.pt, the first beside it as peer0.pt, both loadable with dfkd.load_student
    files = {}
    for i, name in enumerate(cfg.peers):
        path = out / (STUDENT_FILE if i == len(cfg.peers) - 1 else f"peer{i}.pt")
        files[name if name not in files else f"{name}_{i}"] = str(save_student(
            evaluated[str(i)], path, student_meta(
                evaluated[str(i)], name, None, spec, dataset=cfg.dataset, method="afd",
                test_acc=final.get(keys[i]), iters=loop.iteration)))
    write_json(out / "metrics.json", {
        "method": "afd", "dataset": cfg.dataset, "peers": cfg.peers,
        "peer_layers": method.layers, **final, "best_acc": loop.best, "iters": loop.iteration,
        "epochs": epochs, "seconds": round(loop.seconds, 2),
        "seconds_per_epoch": round(loop.seconds / max(epochs, 1e-9), 2),
        "train_images": len(train), "student_files": files, "history": loop.history,
        "config": to_dict(cfg)})
    print(" ".join(f"{k}={v:.2f}" for k, v in final.items())
          + f" iters={loop.iteration} seconds={loop.seconds:.1f}")
    print(f"run folder: {out}  (TensorBoard: tensorboard --logdir {out / 'tb'})")
    print(f"student: {out / STUDENT_FILE} (peer {cfg.peers[-1]}; peer {cfg.peers[0]}: "
          f"{out / 'peer0.pt'})")
    return 0

"""AFD, online adversarial feature-map distillation (``tools/train_afd.py``).

Chung et al., "Feature-map-level Online Adversarial Knowledge Distillation", ICML 2020.
Two peer classifiers train together from scratch on the real training set. Peer i has a
discriminator D_i that tells its peer's feature map (real) from its own (fake); peer i
minimises CE + kl_weight·τ²·KL(p_peer^τ ‖ p_i^τ) (DML; the peer's logits detached) +
adv_weight·L_GAN(D_i(T_i(F_i)), real). The transfer T_i maps peer i's map to the shape
both share (1×1 conv to the fewer channels, average pooling to the smaller resolution)
and trains with peer i. On the shared loop the discriminators are the adversary player
and the peers, with their transfers as ``aux``, the student player. Batches are a
function of (seed, iteration), so ``--resume`` is exact. The discriminator step forwards
the peers again without gradients in train mode (as CycleGAN's does), so BatchNorm peers
update their running statistics twice per iteration.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from dfkd.cli import (add_common_args, check_out, config_from_flags, prepare_device,
                      resume_if_asked, start_run, write_json)
from dfkd.config import AFDConfig, to_dict
from dfkd.data import get_spec, load_tensors
from dfkd.data.epoch_order import EpochOrder
from dfkd.engine import AdversarialLoop, Player, RunLogger, StatelessMethod, seed_everything
from dfkd.errors import ConfigError, DfkdError
from dfkd.hooks import FeatureRecorder
from dfkd.image_translation import check_gan_mode
from dfkd.losses.gan import discriminator_loss, gan_loss
from dfkd.losses.logits import kd_kl
from dfkd.metrics import accuracy
from dfkd.modes import eval_mode
from dfkd.models import build_model, feature_groups
from dfkd.registry import UnknownNameError


class FeatureDiscriminator(nn.Module):
    """A real/fake logit per feature map, (N, C, H, W) -> (N,): conv 3×3 stride 2, BN,
    LeakyReLU(0.2), conv 3×3, LeakyReLU(0.2), global average pool, linear."""

    def __init__(self, channels: int, width: int = 64) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, stride=2, padding=1), nn.BatchNorm2d(width),
            nn.LeakyReLU(0.2), nn.Conv2d(width, width, 3, padding=1), nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.logit = nn.Linear(width, 1)

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.logit(self.features(feature_map)).squeeze(1)


def transfer(shape: tuple[int, ...], common: tuple[int, ...]) -> nn.Module:
    """T_i from a map of shape (C, H, W) to ``common``: a 1×1 conv where the channels
    differ, adaptive average pooling where the resolution does; else the identity."""
    layers: list[nn.Module] = []
    if shape[0] != common[0]:
        layers.append(nn.Conv2d(shape[0], common[0], 1, bias=False))
    if shape[1:] != common[1:]:
        layers.append(nn.AdaptiveAvgPool2d(common[1:]))
    return nn.Sequential(*layers) if layers else nn.Identity()


class AFD(StatelessMethod):
    """The two peers' game (see the module docstring); ``peers`` holds two classifiers."""

    def __init__(self, peers: nn.ModuleDict, train: TensorDataset, batch_size: int, seed: int,
                 device: torch.device, layers: list[str] | None = None,
                 gan_mode: str = "lsgan", adv_weight: float = 1.0, kl_weight: float = 1.0,
                 temperature: float = 3.0, ndf: int = 64) -> None:
        if len(peers) != 2:
            raise ConfigError(f"AFD trains exactly two peers, got {len(peers)}: set peers to two "
                              "model names, e.g. [lenet5, lenet5_half]")
        if temperature <= 0:
            raise ConfigError(f"temperature must be > 0, got {temperature}")
        check_gan_mode(gan_mode)
        self.images, self.labels = train.tensors
        if len(self.images) < batch_size:
            raise ConfigError(f"train.batch_size {batch_size} exceeds the {len(self.images)} "
                              "training images")
        self.peers, self.device, self.gan_mode = peers, device, gan_mode
        self.adv_weight, self.kl_weight, self.temperature = adv_weight, kl_weight, temperature
        self.layers = list(layers or [])
        if not self.layers:
            try:
                self.layers = [feature_groups(peer)[-1] for peer in peers.values()]
            except ValueError as exc:
                raise ConfigError(f"{exc}; or name each peer's layer in peer_layers") from None
        if len(self.layers) != 2:
            raise ConfigError(f"peer_layers names {len(self.layers)} layers: give one per peer "
                              "(or none, for each peer's last feature group)")
        self.recorders = []
        for i, (peer, layer) in enumerate(zip(peers.values(), self.layers)):
            try:
                self.recorders.append(FeatureRecorder(peer, {"map": layer}))
            except DfkdError as exc:
                raise ConfigError(f"peer_layers[{i}]: {exc}") from None
        with eval_mode(peers), torch.no_grad():
            _, maps = self.forward(self.images[:2].to(device))
        for layer, m in zip(self.layers, maps):
            if m.dim() != 4:
                raise ConfigError(f"layer {layer!r} gives shape {tuple(m.shape)}, not a feature "
                                  "map (N, C, H, W): name a convolutional layer in peer_layers")
        shapes = [tuple(m.shape[1:]) for m in maps]
        common = tuple(min(sizes) for sizes in zip(*shapes))
        self.transfers = nn.ModuleDict({k: transfer(s, common) for k, s in zip(peers, shapes)})
        self.discriminators = nn.ModuleDict({k: FeatureDiscriminator(common[0], ndf)
                                             for k in peers})
        self.transfers.to(device)
        self.discriminators.to(device)
        self.order = EpochOrder(len(self.images), batch_size, seed)
        self.steps_per_epoch = self.order.steps_per_epoch

    def forward(self, images: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Both peers' logits and their maps at ``layers`` (raw, before the transfers)."""
        logits, maps = [], []
        for peer, recorder in zip(self.peers.values(), self.recorders):
            with recorder:
                logits.append(peer(images))
            maps.append(recorder["map"])
        return logits, maps

    def shared_maps(self, images: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Both peers' logits and their maps through the transfers T_0, T_1."""
        logits, maps = self.forward(images)
        return logits, [t(m) for t, m in zip(self.transfers.values(), maps)]

    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = self.order.indices(iteration)
        return self.images[index].to(self.device), self.labels[index].to(self.device)

    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """Σ_i ½[L(D_i(T_j F_j), real) + L(D_i(T_i F_i), fake)], j the peer of i."""
        images, _ = self.batch(iteration)
        with torch.no_grad():
            _, maps = self.shared_maps(images)
        parts = {f"D_{i}": discriminator_loss(d, maps[1 - i], maps[i], self.gan_mode)["loss"]
                 for i, d in enumerate(self.discriminators.values())}
        return {"loss": sum(parts.values()), **parts}

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """Σ_i CE_i + kl_weight·τ²KL(p_j ‖ p_i) + adv_weight·L(D_i(T_i F_i), real)."""
        images, labels = self.batch(iteration)
        logits, maps = self.shared_maps(images)
        parts = {}
        for i, d in enumerate(self.discriminators.values()):
            parts[f"ce_{i}"] = F.cross_entropy(logits[i], labels)
            parts[f"kl_{i}"] = self.kl_weight * kd_kl(logits[i], logits[1 - i].detach(),
                                                      self.temperature)
            parts[f"adv_{i}"] = self.adv_weight * gan_loss(d(maps[i]), True, self.gan_mode,
                                                           for_discriminator=False)
        return {"loss": sum(parts.values()), **parts}

    def log_media(self, logger: RunLogger, iteration: int) -> None:
        """Channel means of both peers' shared-shape maps of 8 training images (rows)."""
        with eval_mode(self.peers), torch.no_grad():
            _, maps = self.shared_maps(self.images[:8].to(self.device))
        logger.image_grid("features/peer_0_peer_1", torch.cat([m.mean(1, keepdim=True)
                                                               for m in maps]), iteration, nrow=8)


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
    return cfg


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
    peers = build_peers(cfg.peers, spec.in_channels, spec.num_classes).to(device)
    method = AFD(peers, train, cfg.train.batch_size, cfg.train.seed, device, cfg.peer_layers,
                 cfg.gan_mode, cfg.adv_weight, cfg.kl_weight, cfg.temperature, cfg.ndf)
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
    write_json(out / "metrics.json", {
        "method": "afd", "dataset": cfg.dataset, "peers": cfg.peers,
        "peer_layers": method.layers, **final, "best_acc": loop.best, "iters": loop.iteration,
        "epochs": epochs, "seconds": round(loop.seconds, 2),
        "seconds_per_epoch": round(loop.seconds / max(epochs, 1e-9), 2),
        "train_images": len(train), "history": loop.history, "config": to_dict(cfg)})
    print(" ".join(f"{k}={v:.2f}" for k, v in final.items())
          + f" iters={loop.iteration} seconds={loop.seconds:.1f}")
    print(f"run folder: {out}  (TensorBoard: tensorboard --logdir {out / 'tb'})")
    return 0

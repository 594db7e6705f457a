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

The family's constructor, ``Method(teacher, student, adversary, options, data, setup)``,
read for online distillation, where no network is only a teacher: the two peers take the
``teacher`` (peer 0) and ``student`` (peer 1, whose accuracy is the run's ``acc``) slots
and both train (``peers`` holds the pair: the loop's "peer" player). The adversary is the
feature discriminators D_0, D_1 (an ``nn.ModuleDict`` keyed "0", "1"), or None, as a run
passes it: their input channels are the shared map shape's, known only once AFD has
probed the peers' maps, so AFD builds them itself (``FeatureDiscriminator``s of
``options.ndf`` filters, initialised after the transfers). ``options`` are
:class:`AFDOptions`, ``data`` the training set (a ``TensorDataset`` of images and labels),
``setup`` a :class:`RealDataSetup`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from dfkd.adversarial_kd.registry import METHODS
from dfkd.adversarial_kd.setup import RealDataSetup
from dfkd.core.errors import ConfigError, DfkdError
from dfkd.core.modes import eval_mode
from dfkd.data.epoch_order import EpochOrder
from dfkd.engine import RunLogger, StatelessMethod
from dfkd.losses.gan import check_gan_mode, discriminator_loss, gan_loss
from dfkd.losses.logits import kd_kl
from dfkd.nets import feature_groups
from dfkd.nets.discriminators import FeatureDiscriminator
from dfkd.nets.hooks import FeatureRecorder


def transfer(shape: tuple[int, ...], common: tuple[int, ...]) -> nn.Module:
    """T_i from a map of shape (C, H, W) to ``common``: a 1×1 conv where the channels
    differ, adaptive average pooling where the resolution does; else the identity."""
    layers: list[nn.Module] = []
    if shape[0] != common[0]:
        layers.append(nn.Conv2d(shape[0], common[0], 1, bias=False))
    if shape[1:] != common[1:]:
        layers.append(nn.AdaptiveAvgPool2d(common[1:]))
    return nn.Sequential(*layers) if layers else nn.Identity()


@dataclass(frozen=True)
class AFDOptions:
    """AFD's loss and discriminators (Chung et al., "Feature-map-level Online Adversarial
    Knowledge Distillation", ICML 2020): each peer's CE + ``kl_weight``·τ²·KL to its peer
    at ``temperature`` τ + ``adv_weight``·L_GAN of ``gan_mode`` against its discriminator,
    a ``FeatureDiscriminator`` of ``ndf`` filters on the maps at ``peer_layers`` (one layer
    name per peer; empty: each peer's last feature group). The paper weighs the adversarial
    term by 1, DML (Zhang et al. 2018) the mutual KL by 1; the GAN loss and τ are this
    implementation's defaults, not checked against the paper's setting."""

    gan_mode: str = "lsgan"
    adv_weight: float = 1.0
    kl_weight: float = 1.0
    temperature: float = 3.0  # τ (DML takes plain softmaxes: τ 1)
    ndf: int = 64  # width of each feature-map discriminator
    peer_layers: list[str] = field(default_factory=list)


@METHODS.register("afd")
class AFD(StatelessMethod):
    """The two peers' game (see the module docstring): ``teacher`` is peer 0, ``student``
    peer 1."""

    Options = AFDOptions

    def __init__(self, teacher: nn.Module, student: nn.Module, adversary: nn.ModuleDict | None,
                 options: AFDOptions, data: TensorDataset, setup: RealDataSetup) -> None:
        setup.refuse_own_loss_extras("AFD")
        peers = nn.ModuleDict({"0": teacher, "1": student})
        batch_size, device = setup.batch_size, setup.device
        check_gan_mode(options.gan_mode)
        self.images, self.labels = data.tensors
        if len(self.images) < batch_size:
            raise ConfigError(f"train.batch_size {batch_size} exceeds the {len(self.images)} "
                              "training images")
        self.options = options
        self.peers, self.device, self.gan_mode = peers, device, options.gan_mode
        self.adv_weight, self.kl_weight = options.adv_weight, options.kl_weight
        self.temperature = options.temperature
        self.layers = list(options.peer_layers)
        if not self.layers:
            try:
                self.layers = [feature_groups(peer)[-1] for peer in peers.values()]
            except ValueError as exc:
                raise ConfigError(f"{exc}; or name each peer's layer in options.peer_layers") \
                    from None
        if len(self.layers) != 2:
            raise ConfigError(f"options.peer_layers names {len(self.layers)} layers: give one "
                              "per peer (or none, for each peer's last feature group)")
        self.recorders = []
        for i, (peer, layer) in enumerate(zip(peers.values(), self.layers)):
            try:
                self.recorders.append(FeatureRecorder(peer, {"map": layer}))
            except DfkdError as exc:
                raise ConfigError(f"options.peer_layers[{i}]: {exc}") from None
        with eval_mode(peers), torch.no_grad():
            _, maps = self.forward(self.images[:2].to(device))
        for layer, m in zip(self.layers, maps):
            if m.dim() != 4:
                raise ConfigError(f"layer {layer!r} gives shape {tuple(m.shape)}, not a feature "
                                  "map (N, C, H, W): name a convolutional layer in "
                                  "options.peer_layers")
        shapes = [tuple(m.shape[1:]) for m in maps]
        common = tuple(min(sizes) for sizes in zip(*shapes))
        self.transfers = nn.ModuleDict({k: transfer(s, common) for k, s in zip(peers, shapes)})
        if adversary is None:  # built here, after the transfers: see the module docstring
            adversary = nn.ModuleDict({k: FeatureDiscriminator(common[0], options.ndf)
                                       for k in peers})
        elif sorted(adversary) != sorted(peers):
            raise ValueError(f"AFD's adversary holds one discriminator per peer, keyed "
                             f"{sorted(peers)}; got {sorted(adversary)}")
        else:  # D_i judges peer i's map: in the peers' order
            adversary = nn.ModuleDict({k: adversary[k] for k in peers})
        self.discriminators = adversary
        self.transfers.to(device)
        self.discriminators.to(device)
        self.order = EpochOrder(len(self.images), batch_size, setup.seed)
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



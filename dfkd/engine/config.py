"""Config sections of the loop itself: a player's optimizer, schedule and steps, and a
run's length, batch and logging (shared by every family's config). The values each field
takes (counts >= 1, rates > 0, momenta in [0, 1), ...) are in one table,
``dfkd.core.config.RANGES``, checked whenever a config is read."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class OptimConfig:
    """An optimizer: ``adam`` or ``sgd``."""

    name: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])


@dataclass
class ScheduleConfig:
    """Learning-rate schedule over iterations: ``constant``, ``step``, ``cosine`` or ``linear``.

    ``step`` multiplies by ``gamma`` at each milestone (an iteration number); ``cosine``
    anneals to ``min_lr_ratio * lr`` over ``horizon`` iterations (0: the run's --iters);
    ``linear`` is pix2pix/CycleGAN's policy: constant up to ``horizon`` (0: half the run),
    then linearly down to ``min_lr_ratio * lr`` at the run's end.
    """

    name: str = "constant"
    milestones: list[int] = field(default_factory=list)
    gamma: float = 0.1
    horizon: int = 0
    min_lr_ratio: float = 0.0


@dataclass
class PlayerConfig:
    """One player of the adversarial loop: its model, optimizer, steps per iteration."""

    # a model name, an import path (mypkg.nets:Small), or {class: mypkg.nets:Small,
    # kwargs: {...}} (dfkd.nets.import_path); the generator's is a generator name
    model: str | dict[str, Any] = ""
    steps: int = 1  # optimizer steps per iteration; 0 freezes a player other than the student
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    clip_grad: float = 0.0  # max gradient norm; 0 disables
    # momentum of an EMA copy of the weights; 0 disables. The generator's feeds MAD's
    # student; the student's (Polyak averaging) is the model evaluated and kept in best.pt
    ema: float = 0.0


@dataclass
class TrainConfig:
    """Length, batch, logging and evaluation of a run."""

    iters: int = 1000
    batch_size: int = 256
    eval_every: int = 100
    log_every: int = 10
    image_every: int = 200
    seed: int = 0
    device: str = "cpu"
    threads: int = 0  # torch CPU threads; 0 keeps torch's default
    amp: bool = False  # mixed precision: float16 + loss scaling on CUDA, bfloat16 on CPU


@dataclass
class KDTrainConfig:
    """Length, batch, logging and evaluation of a data-driven distillation run."""

    epochs: int = 10
    batch_size: int = 128
    train_subset: int = 0  # use the first N training images only (0: all); a reduced budget
    log_every: int = 50
    seed: int = 0
    device: str = "cpu"
    threads: int = 0
    amp: bool = False  # mixed precision: float16 + loss scaling on CUDA, bfloat16 on CPU


@dataclass
class GANTrainConfig(TrainConfig):
    """A :class:`TrainConfig` with an image-to-image GAN run's defaults, plus the number of
    test pairs evaluated."""

    iters: int = 2000
    batch_size: int = 16
    log_every: int = 20
    eval_every: int = 200
    eval_pairs: int = 500  # test pairs (or images) for quality and FID at each evaluation


def gan_optim(schedule: str = "constant") -> PlayerConfig:
    """Adam 2e-4, β₁ 0.5, as GAN players are usually trained (Radford et al. 2016, section 4;
    Isola et al. 2017, section 3.3, whose ``--lr_policy linear`` is ``schedule="linear"``);
    also the critic of the adversarial student_loss terms."""
    return PlayerConfig(optim=OptimConfig(name="adam", lr=2e-4, betas=[0.5, 0.999]),
                        schedule=ScheduleConfig(name=schedule))


def linear_gan_optim() -> PlayerConfig:
    """pix2pix/CycleGAN's players: :func:`gan_optim`, constant for the first half of the run,
    then linearly to 0 (the original code's ``--lr_policy linear``)."""
    return gan_optim("linear")

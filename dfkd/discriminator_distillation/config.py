"""The config of a data-free run (``tools/train_dfkd.py``): sections and defaults."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from dfkd.data.augment import AugmentConfig
from dfkd.engine.config import PlayerConfig, TrainConfig, gan_optim
from dfkd.knowledge.config import KnowledgeConfig


@dataclass
class GeneratorConfig(PlayerConfig):
    """The data-free generator: width, latent size, and the optional BN-statistics prior.

    ``bn_weight`` > 0 adds bn_weight × L_bn (DFQ/DeepInversion: synthetic batch statistics
    at the teacher's BatchNorm inputs should match the stored ones) to any method's
    generator loss; the teacher must have BatchNorm layers. ``members`` > 1 trains that
    many generators, each making a slice of every batch; ``diversity`` > 0 rewards them
    for making samples the teacher sees differently (``member_diversity_loss``).
    """

    model: str = "dafl"
    nz: int = 100
    ngf: int = 64
    bn_weight: float = 0.0
    members: int = 1
    diversity: float = 0.0


@dataclass
class StudentConfig(PlayerConfig):
    """The data-free student; ``quantize`` (this family's only): quantization-aware training
    with fake-quantized weights and activations, e.g. {weight_bits: 8, activation_bits: 8}
    (dfkd.nets.quantize); empty: a float student."""

    model: str | dict[str, Any] = "lenet5_half"
    quantize: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReplayConfig:
    """Bounded replay of synthetic samples (``dfkd.discriminator_distillation.replay``); capacity 0 disables it.

    ``ratio`` is the fraction of each student batch drawn from the buffer.
    """

    capacity: int = 0
    policy: str = "fifo"
    ratio: float = 0.5


@dataclass
class MonitorConfig:
    """Mode-collapse warnings of a data-free run (``dfkd.metrics.collapse``), checked at
    every evaluation on a fixed bank of 256 latents; both figures go to TensorBoard."""

    min_class_entropy: float = 0.5  # teacher-class histogram entropy / log K
    min_sample_diversity: float = 0.1  # mean RMS pixel difference of sample pairs


@dataclass
class DFKDConfig:
    """A data-free distillation run (discriminator distillation family)."""

    renamed: ClassVar[dict[str, str]] = {"loss": "options"}

    method: str = "dafl"
    dataset: str = "fashion_mnist"
    data_root: str = ""
    # a model name (lenet5), an import path (mypkg.nets:MyNet), or a mapping
    # {class: mypkg.nets:MyNet, kwargs: {...}, ckpt: path} (dfkd.nets.import_path)
    teacher: str | dict[str, Any] = "lenet5"
    # a list of checkpoints: several teachers of disjoint class subsets, one K-way teacher
    # (knowledge amalgamation: dfkd.discriminator_distillation.multi_teacher)
    teacher_ckpt: str | list[str] = ""
    student: StudentConfig = field(default_factory=StudentConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    # the method's own options (its Options dataclass: weights, temperatures, ...), checked
    # against that dataclass when the config is read; empty keeps the published defaults
    options: dict[str, Any] = field(default_factory=dict)
    # weighted knowledge terms that replace the method's own student loss when given,
    # e.g. {kd: 1.0, at: 1000}; empty keeps the method's published student loss
    student_loss: dict[str, float] = field(default_factory=dict)
    knowledge: KnowledgeConfig = field(default_factory=KnowledgeConfig)
    critic: PlayerConfig = field(default_factory=gan_optim)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

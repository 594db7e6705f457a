"""Configuration: dataclasses <- YAML file <- dotted ``--set key=value`` overrides.

A config is data: a YAML file holds values only, never code. Every key must be a field of
the dataclasses below; an unknown key fails with its dotted path and a suggestion.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dfkd.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


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

    model: str = ""
    steps: int = 1
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    clip_grad: float = 0.0  # max gradient norm; 0 disables
    # momentum of an EMA copy of the weights; 0 disables. The generator's feeds MAD's
    # student; the student's (Polyak averaging) is the model evaluated and kept in best.pt
    ema: float = 0.0


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
class ReplayConfig:
    """Bounded replay of synthetic samples (``dfkd.replay``); capacity 0 disables it.

    ``ratio`` is the fraction of each student batch drawn from the buffer.
    """

    capacity: int = 0
    policy: str = "fifo"
    ratio: float = 0.5


@dataclass
class AugmentConfig:
    """Random views of the synthetic images the student learns from (``dfkd.augment``).

    The teacher labels each view afresh, so every student step on a stored or reused
    batch sees new inputs at the price of one cheap teacher forward pass.
    """

    flip: bool = False  # random horizontal flip
    crop_padding: int = 0  # random crop back to size after zero-padding this many pixels
    mixup: float = 0.0  # blend random pairs with weight ~ Beta(mixup, mixup); 0 disables


@dataclass
class KnowledgeConfig:
    """Settings of the ``student_loss:`` terms (``dfkd.knowledge``); published defaults.

    Feature terms pair ``teacher_layers[i]`` with ``student_layers[i]`` (module names;
    empty: each model's feature groups, e.g. LeNet's pooling outputs, ResNet's stages).
    """

    temperature: float = 4.0  # KD, DKD, PR-DKD (Hinton 2015; Zhao 2022)
    # student steps over which every term but ce ramps linearly from 0 to its weight
    # (DKD's warm-up, Zhao et al. 2022: 20 of 240 epochs); 0 disables
    warmup: int = 0
    dkd_alpha: float = 1.0  # DKD: weight of target-class KD
    dkd_beta: float = 8.0  # DKD: weight of non-target-class KD
    virtual_prob: float = 0.9  # Tf-KD: the virtual teacher's probability of the true class
    virtual_temperature: float = 20.0  # Tf-KD
    teacher_layers: list[str] = field(default_factory=list)
    student_layers: list[str] = field(default_factory=list)
    ab_margin: float = 1.0  # AB: margin μ of the activation-boundary hinge
    ft_rate: float = 0.5  # FT: paraphrase rate k (factor channels = k · teacher channels)
    kdsvd_k: int = 1  # KD-SVD: singular vectors kept
    crd_dim: int = 128  # CRD: embedding size
    crd_negatives: int = 4096  # CRD: negatives drawn from the memory queue
    crd_temperature: float = 0.07
    ddkd_steps: int = 5  # DDKD: denoising steps T
    ddkd_diff: float = 1.0  # DDKD: λ₁ (diffusion model's loss)
    ddkd_ae: float = 1.0  # DDKD: λ₂ (autoencoder's loss)
    adversarial_gan_mode: str = "vanilla"  # adversarial, anc: the discriminator's GAN loss
    adversarial_hidden: int = 128  # adversarial, anc: the discriminator MLP's width


@dataclass
class MonitorConfig:
    """Mode-collapse warnings of a data-free run (``dfkd.metrics.collapse``), checked at
    every evaluation on a fixed bank of 256 latents; both figures go to TensorBoard."""

    min_class_entropy: float = 0.5  # teacher-class histogram entropy / log K
    min_sample_diversity: float = 0.1  # mean RMS pixel difference of sample pairs


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


def _critic_optim() -> PlayerConfig:
    """The discriminator of the adversarial student_loss terms (``adversarial``, ``anc``):
    Adam 2e-4, β₁ 0.5, as GAN discriminators are usually trained."""
    return PlayerConfig(optim=OptimConfig(name="adam", lr=2e-4, betas=[0.5, 0.999]))


@dataclass
class DFKDConfig:
    """A data-free distillation run (discriminator distillation family)."""

    method: str = "dafl"
    dataset: str = "fashion_mnist"
    data_root: str = ""
    teacher: str = "lenet5"
    teacher_ckpt: str = ""
    student: PlayerConfig = field(default_factory=lambda: PlayerConfig(model="lenet5_half"))
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    loss: dict[str, float] = field(default_factory=dict)
    # weighted knowledge terms that replace the method's own student loss when given,
    # e.g. {kd: 1.0, at: 1000}; empty keeps the method's published student loss
    student_loss: dict[str, float] = field(default_factory=dict)
    knowledge: KnowledgeConfig = field(default_factory=KnowledgeConfig)
    critic: PlayerConfig = field(default_factory=_critic_optim)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check/convert a YAML value to the annotated type of field ``key``."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"config key {key!r} is a section; give a mapping, not {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key {key!r} expects a list, got {value!r}")
        (item_tp,) = typing.get_args(tp)[:1]
        return [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key {key!r} expects a mapping, got {value!r}")
        _, val_tp = typing.get_args(tp)
        return {str(k): _coerce(v, val_tp, f"{key}.{k}") for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return _coerce(value, option, key)
            except ConfigError:
                continue
        raise ConfigError(f"config key {key!r} got {value!r}, which fits none of {tp}")
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):  # YAML reads "1e-3" (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is bool and isinstance(value, bool):
        return value
    if tp is str and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    if tp is type(None) and value is None:
        return None
    raise ConfigError(f"config key {key!r} expects {_type_name(tp)}, got {value!r}")


def merge(obj: Any, values: dict, prefix: str = "") -> Any:
    """Return a copy of dataclass ``obj`` with ``values`` (nested dict) applied."""
    hints = typing.get_type_hints(type(obj))
    names = [f.name for f in dataclasses.fields(obj)]
    changes = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown config key {path!r}{hint}; known here: {', '.join(names)}")
        value = _coerce(value, hints[key], path)
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            value = merge(current, value, f"{path}.")
        changes[key] = value
    return dataclasses.replace(obj, **changes)


def parse_override(text: str) -> dict:
    """``"a.b=1e-3"`` -> ``{"a": {"b": 0.001}}``; the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value (e.g. train.iters=500)")
    dotted, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({exc})") from None
    for part in reversed(dotted.strip().split(".")):
        value = {part: value}
    return value


def _deep_update(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_update(out[key], value)
        else:
            out[key] = value
    return out


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping; a missing or malformed file is a :class:`ConfigError`."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys")
    return data


def build_config(default: Any, files: list[str | Path] = (), overrides: list[str] = ()) -> Any:
    """Apply YAML ``files`` then ``--set`` ``overrides`` to the dataclass ``default``."""
    values: dict = {}
    for path in files:
        values = _deep_update(values, read_yaml(path))
    for text in overrides:
        values = _deep_update(values, parse_override(text))
    return merge(default, values)


def to_dict(cfg: Any) -> dict:
    """The config as plain data (for checkpoints, metrics.json and TensorBoard)."""
    return dataclasses.asdict(cfg)


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
class KDConfig:
    """Classic distillation with the real training data (``tools/train_kd.py``): the
    baseline data-free results are compared against."""

    dataset: str = "fashion_mnist"
    data_root: str = ""
    teacher: str = "lenet5"
    teacher_ckpt: str = ""
    student: PlayerConfig = field(default_factory=lambda: PlayerConfig(model="lenet5_half"))
    student_loss: dict[str, float] = field(default_factory=lambda: {"ce": 1.0, "kd": 1.0})
    knowledge: KnowledgeConfig = field(default_factory=KnowledgeConfig)
    critic: PlayerConfig = field(default_factory=_critic_optim)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: KDTrainConfig = field(default_factory=KDTrainConfig)


def _pix2pix_optim() -> PlayerConfig:
    """Adam 2e-4, β₁ 0.5 (Isola et al. 2017, section 3.3), constant for the first half of the
    run, then linearly to 0, as the original code's ``--lr_policy linear``."""
    return PlayerConfig(optim=OptimConfig(name="adam", lr=2e-4, betas=[0.5, 0.999]),
                        schedule=ScheduleConfig(name="linear"))


@dataclass
class GANTrainConfig(TrainConfig):
    """A :class:`TrainConfig` with an image-to-image GAN run's defaults, plus the number of
    test pairs evaluated."""

    iters: int = 2000
    batch_size: int = 16
    log_every: int = 20
    eval_every: int = 200
    eval_pairs: int = 500  # test pairs (or images) for quality and FID at each evaluation


@dataclass
class FIDConfig:
    """The features FID is computed under: Inception-v3 from ``inception_weights`` (a local
    file) when given, else the penultimate features of ``classifier`` (its
    ``classifier_ckpt``, or its cached Fashion-MNIST checkpoint); ``classifier: ""`` and no
    weights: no FID."""

    classifier: str = "lenet5"
    classifier_ckpt: str = ""
    inception_weights: str = ""


@dataclass
class GANConfig:
    """Training a pix2pix or CycleGAN teacher (``tools/train_gan.py``), original option names.

    The task decides the model: a paired task (``edges2fashion``) trains pix2pix (cGAN +
    ``l1_weight``·L1), an unpaired one (``sneaker2boot``) CycleGAN (GAN + ``lambda_A``/
    ``lambda_B``·cycle + ``lambda_identity``·identity, image pools of ``pool_size``).
    The unconditional task (``fashion``) trains a DCGAN of ``nz``, ``ngf`` and ``ndf``
    (``netG``/``netD``/``norm``/``n_layers_D`` are the image-to-image options).
    ``fid`` says which features give FID at each evaluation.
    """

    task: str = "edges2fashion"
    data_root: str = ""
    netG: str = "resnet_9blocks"
    nz: int = 100
    ngf: int = 64
    norm: str = "batch"
    dropout: bool = False
    netD: str = "basic"
    ndf: int = 64
    n_layers_D: int = 3
    gan_mode: str = "vanilla"
    l1_weight: float = 100.0
    lambda_A: float = 10.0
    lambda_B: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 0
    fid: FIDConfig = field(default_factory=FIDConfig)
    generator: PlayerConfig = field(default_factory=_pix2pix_optim)
    discriminator: PlayerConfig = field(default_factory=_pix2pix_optim)
    train: GANTrainConfig = field(default_factory=GANTrainConfig)


def _dcgan_optim() -> PlayerConfig:
    """Adam 2e-4, β₁ 0.5, constant (Radford et al. 2016, section 4)."""
    return PlayerConfig(optim=OptimConfig(name="adam", lr=2e-4, betas=[0.5, 0.999]))


@dataclass
class JointConfig:
    """Distilling a DCGAN teacher (``tools/compress_gan.py --task dcgan``) into a GAN of
    ``student_ngf``/``student_ndf`` filters.

    ``method``: ``joint`` (Chen et al. 2020): the student generator steps on
    gan_weight·L_GAN(D_S) + pixel_weight·‖G_S(z) − G_T(z)‖₁, the student discriminator on
    L_GAN + d_distill_weight·‖D_S(x) − D_T(x)‖₁ over real and generated x, where D_T is the
    teacher's discriminator (``discriminator_ckpt``: ``auto`` finds ``latest_net_D.pth``
    beside the generator); ``aguinaldo`` (Aguinaldo et al. 2019): the generator alone, on
    pixel_weight·‖G_S(z) − G_T(z)‖² for the same z, no discriminator.
    """

    task: str = "fashion"
    data_root: str = ""
    method: str = "joint"
    teacher_ckpt: str = ""
    discriminator_ckpt: str = "auto"
    student_ngf: int = 16
    student_ndf: int = 16
    gan_mode: str = "vanilla"
    gan_weight: float = 1.0
    pixel_weight: float = 30.0
    d_distill_weight: float = 1.0
    fid: FIDConfig = field(default_factory=FIDConfig)
    student: PlayerConfig = field(default_factory=_dcgan_optim)
    discriminator: PlayerConfig = field(default_factory=_dcgan_optim)
    train: GANTrainConfig = field(default_factory=GANTrainConfig)


@dataclass
class CompressConfig:
    """GAN Compression (``tools/compress_gan.py``; Li et al. 2020, eq. 5): a student
    generator of ``student_ngf`` filters learns from a pix2pix/CycleGAN teacher with
    gan_weight·L_GAN + recon_weight·L1 (to the target on a paired task, to the teacher's
    output on an unpaired one) + distill_weight·Σ‖1×1conv(student layer) − teacher layer‖²
    at ``distill_layers`` (empty: ``generators.pix2pix.distill_layers`` of the netG).

    ``discriminator_ckpt``: ``auto`` starts D from the teacher's (``latest_net_D.pth`` or
    ``latest_net_D_A.pth`` beside the generator file), a path from that file, ``""`` from
    scratch (``netD``/``ndf``/``n_layers_D``/``norm``).
    """

    task: str = "edges2fashion"
    data_root: str = ""
    teacher_ckpt: str = ""
    discriminator_ckpt: str = "auto"
    student_ngf: int = 16
    netD: str = "basic"
    ndf: int = 64
    n_layers_D: int = 3
    norm: str = "batch"
    gan_mode: str = "vanilla"
    gan_weight: float = 1.0
    recon_weight: float = 100.0
    distill_weight: float = 1.0
    distill_layers: list[str] = field(default_factory=list)
    fid: FIDConfig = field(default_factory=FIDConfig)
    student: PlayerConfig = field(default_factory=_pix2pix_optim)
    discriminator: PlayerConfig = field(default_factory=_pix2pix_optim)
    train: GANTrainConfig = field(default_factory=GANTrainConfig)


@dataclass
class AFDConfig:
    """Online adversarial feature-map distillation (``tools/train_afd.py``; Chung et al.,
    ICML 2020): two ``peers`` train together from scratch on the real training set, each
    fooling its own discriminator on the map at ``peer_layers[i]`` (empty: each peer's last
    feature group) plus CE and the mutual (DML) KL at ``temperature``."""

    dataset: str = "fashion_mnist"
    data_root: str = ""
    peers: list[str] = field(default_factory=lambda: ["lenet5", "lenet5_half"])
    peer_layers: list[str] = field(default_factory=list)
    peer: PlayerConfig = field(default_factory=lambda: PlayerConfig(
        optim=OptimConfig(name="sgd", lr=0.01, momentum=0.9, weight_decay=5e-4),
        schedule=ScheduleConfig(name="cosine")))
    discriminator: PlayerConfig = field(default_factory=lambda: PlayerConfig(
        optim=OptimConfig(name="adam", lr=2e-4, betas=[0.5, 0.999])))
    ndf: int = 64  # width of each feature-map discriminator
    gan_mode: str = "lsgan"
    adv_weight: float = 1.0
    kl_weight: float = 1.0
    temperature: float = 3.0
    train: KDTrainConfig = field(default_factory=KDTrainConfig)

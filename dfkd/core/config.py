"""Configuration loading: dataclasses <- YAML files <- dotted ``--set key=value`` overrides.

A config is data: a YAML file holds values only, never code. Every key must be a field of
the config's dataclasses (each family defines its own in ``<family>/config.py``); an
unknown key fails with its dotted path and a suggestion, a renamed one with its new name.
Values are checked when read, in one place: :data:`RANGES` (a table keyed by field name)
says which numbers each key takes, and :func:`build_config` ends by checking the whole
merged config against it, so a bad count, rate or ratio is one error line naming the key.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from dfkd.core.errors import ConfigError

# the YAML configs: a wheel ships the repository's configs/ as the package dfkd._configs
# (pyproject.toml); a checkout (or an editable install) reads configs/ itself
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
CONFIG_DIR = (_PACKAGE_DIR / "_configs" if (_PACKAGE_DIR / "_configs").is_dir()
              else _PACKAGE_DIR.parent / "configs")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check/convert a YAML value to the annotated type of field ``key``."""
    if tp is Any:  # a mapping whose keys another dataclass checks later (a method's options)
        return value
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
    """Return a copy of dataclass ``obj`` with ``values`` (nested dict) applied. A config
    class may name its renamed keys in a class attribute ``renamed`` (old -> new, relative
    to the section): an old key is one error line that names the new one."""
    hints = typing.get_type_hints(type(obj))
    names = [f.name for f in dataclasses.fields(obj)]
    changes = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        if key not in names:
            renamed = getattr(type(obj), "renamed", {})
            if key in renamed:
                raise ConfigError(f"config key {path!r} was renamed: use '{prefix}{renamed[key]}'")
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
    """Apply YAML ``files`` then ``--set`` ``overrides`` to the dataclass ``default``, then
    check every value against :data:`RANGES` (:func:`validate`)."""
    values: dict = {}
    for path in files:
        values = _deep_update(values, read_yaml(path))
    for text in overrides:
        values = _deep_update(values, parse_override(text))
    return validate(merge(default, values))


def to_dict(cfg: Any) -> dict:
    """The config as plain data (for checkpoints, metrics.json and TensorBoard)."""
    return dataclasses.asdict(cfg)


# -- value ranges --------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Range:
    """The numbers a config key takes: ``low``/``high`` bounds (None: unbounded), each
    included unless ``*_open``; for a list key, ``length`` items, each in the range.
    NaN and ±inf are in no range."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    length: int | None = None

    def __contains__(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return (f"in {'(' if self.low_open else '['}{self.low:g}, "
                f"{self.high:g}{')' if self.high_open else ']'}")


COUNT = Range(1)  # a count for which 0 means nothing
COUNT_OR_OFF = Range(0)  # a count for which 0 means "off" or "the default"
POSITIVE = Range(0, low_open=True)
NON_NEGATIVE = Range(0)
FRACTION = Range(0, 1)
MOMENTUM = Range(0, 1, high_open=True)  # 1 would never move

#: The range of every numeric config key, keyed by field name: a rule applies wherever that
#: name appears, in any family's config. A key ``"section.name"`` is more specific than
#: ``"name"``; a numeric value with no rule of its own falls back to its section's (the
#: weights under ``options:``/``student_loss:``). A list's rule applies to each item.
#: Every int/float field of a config dataclass has a rule here or is in UNCONSTRAINED
#: (tests/test_config.py checks it).
RANGES: dict[str, Range] = {
    # -- counts -----------------------------------------------------------------------------
    "iters": COUNT,
    "epochs": COUNT,
    "batch_size": COUNT,
    "eval_every": COUNT,  # the loop evaluates when iteration % eval_every == 0, and at the end
    "log_every": COUNT,  # likewise for TensorBoard scalars
    "eval_pairs": COUNT,
    "nz": COUNT,
    "ngf": COUNT,
    "ndf": COUNT,
    "student_ngf": COUNT,
    "student_ndf": COUNT,
    "n_layers_D": COUNT,
    "members": COUNT,  # 1: one generator
    "kdsvd.k": COUNT,  # knowledge.kdsvd.k: singular vectors kept
    "crd.dim": COUNT,
    "crd.negatives": COUNT,
    "ddkd.steps": COUNT,  # denoising steps; the upper bound (half the timesteps) is DDKD's
    "adversarial.hidden": COUNT,
    # optimizer steps per iteration. The issue asked for steps >= 1; that holds for the
    # player a run trains (student, AFD's peers), which must learn. Any other player (the
    # data-free generator, a discriminator, the critic) may take 0 steps: it stays frozen at
    # its initial weights, e.g. a student taught on a fixed random generator's images (the
    # data-free methods then draw a fresh batch: DataFreeMethod.generated_batch). A GAN
    # teacher's generator is its loop's student, but is named "generator": 0 is allowed
    # there too (its run only trains the discriminator; harmless, if pointless).
    "steps": COUNT_OR_OFF,
    "student.steps": COUNT,
    "peer.steps": COUNT,
    "image_every": COUNT_OR_OFF,  # 0: no image grids
    "threads": COUNT_OR_OFF,  # 0: torch's default
    "train_subset": COUNT_OR_OFF,  # 0: the whole training set
    "capacity": COUNT_OR_OFF,  # replay buffer size; 0: no replay
    "pool_size": COUNT_OR_OFF,  # CycleGAN image pool; 0: none
    "crop_padding": COUNT_OR_OFF,  # 0: no random crop
    "warmup": COUNT_OR_OFF,  # student steps of the knowledge terms' ramp; 0: none
    "horizon": COUNT_OR_OFF,  # 0: the run's length (cosine) or half of it (linear)
    "milestones": COUNT_OR_OFF,  # iteration numbers
    # the synthesis-round methods' (DeepInversion, CMI, Fast-DFKD, NAYER) options
    "inner_steps": COUNT,  # optimizer steps of one synthesis round (Fast-k's k)
    "synthesis_batch": COUNT,
    "synthesis_batch_size": COUNT,
    "bank_size": COUNT,
    "negatives": COUNT,
    "head_dim": COUNT,
    "embedding_dim": COUNT,
    "options.steps": COUNT,  # NAYER's generator steps per round
    "warmup_rounds_per_epoch": COUNT,
    "rounds_per_epoch": COUNT,
    "generator_life": COUNT,
    "jitter": COUNT_OR_OFF,  # pixels; 0: no shift
    # a dataset folder in the original pix2pix/CycleGAN layout (data: section)
    "load_size": COUNT,
    "crop_size": COUNT,
    "input_nc": COUNT_OR_OFF,  # 0: the teacher's channels (or 3)
    "output_nc": COUNT_OR_OFF,
    # -- rates and scales -------------------------------------------------------------------
    "lr": POSITIVE,
    "gamma": POSITIVE,  # step schedule multiplier (> 1 raises the rate)
    "temperature": POSITIVE,  # also options.temperature, knowledge.crd.temperature
    "virtual_temperature": POSITIVE,
    "contrast_temperature": POSITIVE,
    "inner_lr": POSITIVE,
    "ft.rate": POSITIVE,
    # -- momenta and fractions --------------------------------------------------------------
    "momentum": MOMENTUM,
    "ema": MOMENTUM,  # 0: no EMA copy
    "betas": Range(0, 1, high_open=True, length=2),  # Adam's (beta1, beta2)
    "beta1": MOMENTUM,
    "beta2": MOMENTUM,
    "bn_momentum": MOMENTUM,  # the BN prior's running statistics; 0: this batch's alone
    "options.flip": FRACTION,  # a probability (augment.flip is a switch)
    "local_min_scale": Range(0, 1, low_open=True),  # CMI's smallest local crop
    "ratio": FRACTION,  # share of each student batch drawn from the replay buffer
    "min_lr_ratio": FRACTION,
    "min_class_entropy": FRACTION,  # entropy / log K
    "virtual_prob": Range(0, 1, low_open=True, high_open=True),  # Tf-KD: logs of p and 1 - p
    # -- weights and magnitudes (0: the term or the feature is off) -------------------------
    "weight_decay": NON_NEGATIVE,
    "clip_grad": NON_NEGATIVE,  # 0: no clipping
    "bn_weight": NON_NEGATIVE,
    "diversity": NON_NEGATIVE,
    "mixup": NON_NEGATIVE,  # Beta(alpha, alpha); 0: no mixup
    "min_sample_diversity": NON_NEGATIVE,
    "ab.margin": NON_NEGATIVE,
    "dkd.alpha": NON_NEGATIVE,
    "dkd.beta": NON_NEGATIVE,
    "ddkd.diff": NON_NEGATIVE,
    "ddkd.ae": NON_NEGATIVE,
    "gan_weight": NON_NEGATIVE,
    "pixel_weight": NON_NEGATIVE,
    "d_distill_weight": NON_NEGATIVE,
    "recon_weight": NON_NEGATIVE,
    "distill_weight": NON_NEGATIVE,
    "l1_weight": NON_NEGATIVE,
    "lambda_A": NON_NEGATIVE,
    "lambda_B": NON_NEGATIVE,
    "lambda_identity": NON_NEGATIVE,
    "adv_weight": NON_NEGATIVE,
    "kl_weight": NON_NEGATIVE,
    "student_loss": NON_NEGATIVE,  # each term's weight
    "options": NON_NEGATIVE,  # a data-free method's weights (temperature: > 0, above)
}
#: numeric fields that take any value
UNCONSTRAINED = frozenset({"seed"})


def range_of(key: str) -> Range | None:
    """The :data:`RANGES` rule of a dotted key (``"generator.optim.lr"``, ``"options.at"``,
    ``"generator.optim.betas[0]"``, or a flag: ``"--batch-size"``), None if it has none."""
    parts = re.sub(r"\[\d+\]", "", key).lstrip("-").replace("-", "_").split(".")
    candidates = [".".join(parts[-2:]), parts[-1]] + parts[-2:-1]
    return next((RANGES[c] for c in candidates if c in RANGES), None)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _name(key: str) -> str:
    return key if key.startswith("-") else f"config key {key!r}"


def check_value(key: str, value: Any) -> Any:
    """Check one value against the rule of ``key`` (a dotted config key, or a tool's flag
    such as ``"--epochs"``); returns it, or raises a :class:`ConfigError` naming the key,
    the value and the allowed range. Non-numbers and keys without a rule pass."""
    rule = range_of(key)
    if rule is None:
        return value
    if isinstance(value, (list, tuple)):
        if rule.length is not None and len(value) != rule.length:
            raise ConfigError(f"{_name(key)} must hold {rule.length} numbers, got {list(value)}")
        for i, item in enumerate(value):
            check_value(f"{key}[{i}]", item)
        return value
    if _is_number(value) and value not in rule:
        raise ConfigError(f"{_name(key)} must be {rule}, got {value}")
    return value


def validate(cfg: Any, prefix: str = "") -> Any:
    """Check every numeric value of the dataclass tree ``cfg`` (sections, lists, mappings)
    against :data:`RANGES`; returns ``cfg``, or raises one :class:`ConfigError` naming the
    first bad key. ``prefix`` is the section's dotted path (e.g. ``"options."``)."""
    for f in dataclasses.fields(cfg):
        key, value = f"{prefix}{f.name}", getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            validate(value, f"{key}.")
        elif isinstance(value, dict):
            for name, item in value.items():
                if dataclasses.is_dataclass(item):
                    validate(item, f"{key}.{name}.")
                else:
                    check_value(f"{key}.{name}", item)
        else:
            check_value(key, value)
    return cfg


def check_choice(key: str, value: str, choices: typing.Iterable[str]) -> str:
    """``value`` if it is one of ``choices``, else one :class:`ConfigError` line naming the
    key (e.g. ``"method mad: options.divergence"``), the value and the choices."""
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)}, got {value!r}")
    return value


def read_options(options_type: type, values: dict, method: str) -> Any:
    """A method's ``options:`` mapping read into its ``Options`` dataclass; an unknown or
    mistyped key, or a value out of its :data:`RANGES` range, is one error line naming the
    key and the method."""
    try:
        return validate(merge(options_type(), values, "options."), "options.")
    except ConfigError as exc:
        raise ConfigError(f"method {method}: {exc}") from None


def config_for_images(folder: str, in_channels: int, num_classes: int) -> Path:
    """The config of ``folder`` (a method) made for the embedded dataset nearest to images
    of ``in_channels`` channels and ``num_classes`` classes: Fashion-MNIST's for grey
    images, CIFAR-10's for colour ones of up to 10 classes, CIFAR-100's beyond; the
    method's first config where it has none of these."""
    wanted = ("fashion_mnist" if in_channels == 1 else "cifar10" if num_classes <= 10
              else "cifar100")
    path = CONFIG_DIR / folder / f"{wanted}.yaml"
    if path.exists():
        return path
    have = sorted((CONFIG_DIR / folder).glob("*.yaml"))
    if not have:
        raise ConfigError(f"no configs/{folder}/*.yaml: pass a config file")
    return have[0]

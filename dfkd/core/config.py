"""Configuration loading: dataclasses <- YAML files <- dotted ``--set key=value`` overrides.

A config is data: a YAML file holds values only, never code. Every key must be a field of
the config's dataclasses (each family defines its own in ``<family>/config.py``); an
unknown key fails with its dotted path and a suggestion, a renamed one with its new name.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from dfkd.core.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent.parent.parent / "configs"


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

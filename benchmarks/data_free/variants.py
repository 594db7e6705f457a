"""Variants of the data-free benchmark: a method of the registry plus config overrides."""
from __future__ import annotations

import difflib
import functools
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmarks import ROOT

CONFIGS = ROOT / "configs"
DATASET = "fashion_mnist"

# Variant name suffix -> the config overrides it adds to the method's config.
REPLAY_ON = ("replay.capacity=10000", "replay.policy=reservoir", "replay.ratio=0.5")
REPLAY_OFF = ("replay.capacity=0",)
SUFFIXES = {"": (), "-replay": REPLAY_ON, "-noreplay": REPLAY_OFF}

_REGISTRY_NAMES = ("import sys; sys.path.insert(0, sys.argv[1]); "
                   "from dfkd.discriminator_distillation import METHODS; "
                   "print(' '.join(METHODS.names()))")


class BenchmarkError(Exception):
    """A benchmark step failed: an unknown variant, a failed run, a missing measurement."""


@dataclass(frozen=True)
class Variant:
    """A results row's identity: a method and the config overrides added to its config."""

    name: str
    method: str
    overrides: tuple[str, ...] = ()


def registry_names_in_child() -> tuple[str, ...]:
    """``METHODS.names()`` of ``dfkd.discriminator_distillation``, read by a child process."""
    result = subprocess.run([sys.executable, "-c", _REGISTRY_NAMES, str(ROOT)], check=True,
                            capture_output=True, text=True)
    return tuple(result.stdout.split())


@functools.cache
def method_names() -> tuple[str, ...]:
    """The benchmark's methods: every data-free method registered in
    ``dfkd.discriminator_distillation.METHODS``. Importing the methods imports torch, so
    unless torch is already loaded here a child process reads them: a heavy parent would
    inflate every later child's measured peak RSS (see :mod:`benchmarks.children`)."""
    if "torch" not in sys.modules:
        return registry_names_in_child()
    from dfkd.discriminator_distillation import METHODS

    return tuple(METHODS.names())


def known_methods() -> list[str]:
    """The methods a variant may name, in the benchmark's (the registry's) order."""
    return list(method_names())


def parse_variant(name: str) -> Variant:
    """``dafl`` -> dafl as configured; ``dafl-noreplay`` -> dafl + replay.capacity=0;
    ``dfad-replay`` -> dfad + a 10k reservoir replay buffer (ratio 0.5)."""
    methods = known_methods()
    for suffix in ("-noreplay", "-replay", ""):
        method = name[: len(name) - len(suffix)] if suffix else name
        if name.endswith(suffix) and method in methods:
            return Variant(name, method, SUFFIXES[suffix])
    candidates = [m + s for m in methods for s in SUFFIXES]
    close = difflib.get_close_matches(name, candidates, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise BenchmarkError(
        f"unknown variant {name!r}{hint}: a variant is a method ({', '.join(methods)}) "
        "optionally followed by -replay or -noreplay, e.g. dafl-noreplay")


def config_file(method: str) -> Path:
    """The method's embedded-default config, with a clear error when it does not exist."""
    path = CONFIGS / method / f"{DATASET}.yaml"
    if not path.exists():
        raise BenchmarkError(f"{method} has no embedded-default config ({path} is missing): "
                             "add it, or leave the method out of --methods")
    return path


def config_has_replay(method: str) -> bool:
    """Whether the method's embedded-default config turns replay on."""
    config = yaml.safe_load(config_file(method).read_text()) or {}
    return bool((config.get("replay") or {}).get("capacity", 0))


# methods whose rows another benchmark measures: the BatchNorm-teacher methods (bn_pair)
# and amalgamation's two half-teachers (benchmarks/amalgamation)
ELSEWHERE = frozenset({"deepinversion", "cmi", "fast_dfkd", "nayer", "dfq", "amalgamation"})


def default_variants(methods: tuple[str, ...] | None = None) -> list[str]:
    """Each method (default: every registered one but those of :data:`ELSEWHERE`) as
    configured, then with replay switched the other way."""
    names = []
    for method in [m for m in method_names() if m not in ELSEWHERE] if methods is None else methods:
        names += [method, method + ("-noreplay" if config_has_replay(method) else "-replay")]
    return names


def resolve_variants(names: list[str]) -> list[Variant]:
    """Parse variant names and check every config exists before anything runs."""
    variants = [parse_variant(n) for n in dict.fromkeys(names)]
    for variant in variants:
        config_file(variant.method)
    return variants


def set_flags(overrides) -> list[str]:
    """``["a=1", "b=2"]`` -> ``["--set", "a=1", "--set", "b=2"]``."""
    return [x for o in overrides for x in ("--set", o)]


def row_key(row: dict) -> str:
    """A row's variant name (rows written before variants existed have only a method)."""
    return row.get("variant") or row["method"]


def row_order(row: dict) -> tuple:
    """Sort rows by method (benchmark order), then plain, -replay, -noreplay."""
    methods, name = known_methods(), row_key(row)
    method = row.get("method", name)
    suffix = name[len(method):]
    return (methods.index(method) if method in methods else len(methods), method,
            list(SUFFIXES).index(suffix) if suffix in SUFFIXES else len(SUFFIXES), name)

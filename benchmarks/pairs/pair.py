"""The pairs the benchmark runs (``--pair``): teacher, methods, output files, targets."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from benchmarks.pairs import targets


@dataclass(frozen=True)
class Pair:
    """One teacher architecture -> lenet5_half on Fashion-MNIST, a teacher per seed."""

    name: str  # the --pair value
    teacher: str  # the teacher's architecture
    teacher_epochs: int  # tools/train_teacher.py --epochs for a missing teacher
    methods: tuple[str, ...]  # the rows (a method, or a name of ``variants``)
    last: int  # evaluations averaged into a run's "last" mean
    stem: str  # <stem>.json, <stem>.md, <stem>_accuracy.png
    runs: str  # default folder of the runs
    title: str  # "# Data-free methods on <title>"
    # target lines after the time budget's: (rows by method, summaries by method) -> lines
    targets: Callable[[dict, dict], list[str]]
    # rows that run a method on one of its configs: row -> (method, configs/<method>/file)
    variants: dict[str, tuple[str, str]] = field(default_factory=dict, hash=False)

    @property
    def plot(self) -> str:
        return f"{self.stem}_accuracy.png"


BN_PAIR = Pair(
    "lenet5_bn", "lenet5_bn", 10,
    ("deepinversion", "cmi", "fast_dfkd", "nayer", "dfq_float", "dfq_8bit", "dfq_4bit"), 3,
    "bn_pair", "runs/bn_pair", "the BatchNorm pair", targets.bn_targets,
    {"dfq_float": ("dfq", "fashion_mnist.yaml"), "dfq_8bit": ("dfq", "fashion_mnist_8bit.yaml"),
     "dfq_4bit": ("dfq", "fashion_mnist_4bit.yaml")})

# the embedded default (make demo's teacher, tools/train_teacher.py's 10 epochs); every row
# names its config, configs/<method>/fashion_mnist.yaml
LENET5_METHODS = ("dafl", "dfad", "zskt", "cgdd", "mad", "dual_generator")
LENET5_PAIR = Pair(
    "lenet5", "lenet5", 10, LENET5_METHODS, 5, "lenet5_pair", "runs/lenet5_pair",
    "the embedded default pair", targets.lenet5_targets,
    {m: (m, "fashion_mnist.yaml") for m in LENET5_METHODS})

PAIRS = {pair.name: pair for pair in (BN_PAIR, LENET5_PAIR)}

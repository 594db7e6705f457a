"""Shared fixtures: tiny generated datasets and models, so tests need no real data."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from dfkd.data.locate import MNIST_FILES
from generators.gan_checkpoint import save_pix2pix_state
from generators.pix2pix import define_D, define_G

ROOT = Path(__file__).resolve().parent.parent

# under pytest-xdist (``make test``: one worker per core) each worker, and the tools it runs
# as child processes, keep to their share of the cores instead of all of them each
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _share = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    torch.set_num_threads(_share)
    os.environ.setdefault("OMP_NUM_THREADS", str(_share))


def write_idx_images(path: Path, images: torch.Tensor) -> None:
    """Write uint8 images (N, H, W) in the idx3 format torchvision's MNIST classes read."""
    n, h, w = images.shape
    path.write_bytes(struct.pack(">IIII", 2051, n, h, w) + images.to(torch.uint8).numpy().tobytes())


def write_idx_labels(path: Path, labels: torch.Tensor) -> None:
    path.write_bytes(struct.pack(">II", 2049, len(labels)) + labels.to(torch.uint8).numpy().tobytes())


def make_fake_fashion(root: Path, n_train: int = 200, n_test: int = 100) -> Path:
    """A Fashion-MNIST look-alike: class k is a bright bar at row 2k+4 plus noise."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = torch.arange(n) % 10
        images = torch.randint(0, 60, (n, 28, 28), generator=gen)
        for i, k in enumerate(labels.tolist()):
            images[i, 2 * k + 4: 2 * k + 7, 4:24] = 250
        write_idx_images(raw / f"{split}-images-idx3-ubyte", images)
        write_idx_labels(raw / f"{split}-labels-idx1-ubyte", labels)
    assert all((raw / name).exists() for name in MNIST_FILES)
    return root


@pytest.fixture(scope="session")
def fake_data_root(tmp_path_factory) -> Path:
    return make_fake_fashion(tmp_path_factory.mktemp("data"))


class TinyClassifier(nn.Module):
    """A small conv net with BatchNorm and a final nn.Linear, for fast loop tests."""

    groups = ("bn", "pool")  # feature maps for attention transfer

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, width, 3, padding=1)
        self.bn = nn.BatchNorm2d(width)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(torch.relu(self.bn(self.conv(x)))).flatten(1))


@pytest.fixture
def tiny_classifier():
    return TinyClassifier


@pytest.fixture(scope="session")
def teacher(fake_data_root, tmp_path_factory) -> Path:
    """A LeNet-5 teacher trained for one epoch on the fake data, by the real tool."""
    path = tmp_path_factory.mktemp("teacher") / "lenet5.pt"
    subprocess.run([sys.executable, "tools/train_teacher.py", "--model", "lenet5", "--epochs", "1",
                    "--data-root", str(fake_data_root), "--out", str(path)],
                   cwd=ROOT, check=True, capture_output=True)
    return path


@pytest.fixture(scope="session")
def bn_teacher(fake_data_root, tmp_path_factory) -> Path:
    """A LeNet-5 with BatchNorm (``lenet5_bn``) trained for one epoch on the fake data: the
    teacher the inversion methods' Fashion-MNIST configs name."""
    path = tmp_path_factory.mktemp("bn_teacher") / "lenet5_bn.pt"
    subprocess.run([sys.executable, "tools/train_teacher.py", "--model", "lenet5_bn", "--epochs",
                    "1", "--data-root", str(fake_data_root), "--out", str(path)],
                   cwd=ROOT, check=True, capture_output=True)
    return path


@pytest.fixture
def method_teacher(request):
    """``method_teacher(name)``: the tiny teacher file of the architecture a data-free
    method's Fashion-MNIST config names (``lenet5``, or ``lenet5_bn`` for the methods that
    need BatchNorm statistics)."""
    from dfkd.core.config import CONFIG_DIR, read_yaml

    fixtures = {"lenet5": "teacher", "lenet5_bn": "bn_teacher"}

    def pick(method: str) -> Path:
        arch = read_yaml(CONFIG_DIR / method / "fashion_mnist.yaml").get("teacher", "lenet5")
        return request.getfixturevalue(fixtures[arch])

    return pick


#: option names of the synthesis-round methods that set their cost, and small values for the
#: tests (matched by name on the method's Options, so a new method needs no entry here)
TINY_OPTION_VALUES = {"inner_steps": 2, "steps": 2, "warmup_rounds": 1, "warmup_epochs": 1,
                      "warmup_rounds_per_epoch": 1, "rounds_per_epoch": 1, "synthesis_batch": 16,
                      "synthesis_batch_size": 16}


def tiny_options(method: str) -> list[str]:
    """``--set`` flags that make a data-free method's run cheap: its own cost options
    (:data:`TINY_OPTION_VALUES`, where its Options has them) and two student steps."""
    import dataclasses

    from dfkd.discriminator_distillation import METHODS

    names = {f.name for f in dataclasses.fields(METHODS.get(method).Options)}
    flags = ["--set", "student.steps=2"]
    for name, value in TINY_OPTION_VALUES.items():
        if name in names:
            flags += ["--set", f"options.{name}={value}"]
    return flags


def make_method(name, teacher, student, generator, spec, options=None, **setup):
    """A registered data-free method built as train_dfkd builds it: ``options`` a mapping
    read into the method's Options (as the config's ``options:``), the rest its
    DataFreeSetup (nz, batch_size, replay, augment, bn_weight, ...)."""
    from dfkd.core.config import read_options
    from dfkd.discriminator_distillation import METHODS
    from dfkd.discriminator_distillation.methods import DataFreeSetup

    cls = METHODS.get(name)
    return cls(teacher, student, generator, read_options(cls.Options, options or {}, name), spec,
               DataFreeSetup(**setup))


def groups_by_hand(net, x):
    """TinyClassifier's two attention points: the BN output and the pooled map."""
    bn = net.bn(net.conv(x))
    return [bn, net.pool(torch.relu(bn))]


def at_by_hand(s_maps, t_maps):
    """Σ_l mean((a_S − a_T)²), a = the normalized channel mean of squared activations."""
    def att(a):
        a = a.pow(2).mean(1).flatten(1)
        return a / a.norm(dim=1, keepdim=True)
    return sum(((att(s) - att(t)) ** 2).mean() for s, t in zip(s_maps, t_maps))


class Constant(nn.Module):
    """A stand-in generator whose every image is filled with one value."""

    def __init__(self, value):
        super().__init__()
        self.value = value
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, z):
        return torch.full((len(z), 1, 8, 8), self.value) + self.w


def straight_and_resumed(args, tmp_path: Path, total: int, stop: int) -> tuple[dict, dict]:
    """``latest.pt`` of a data-free run of ``total`` iterations straight, and of one stopped
    at ``stop`` then resumed to ``total`` (``args(out, iters)``: train_dfkd's argv)."""
    from dfkd.discriminator_distillation.train import main as train_dfkd

    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train_dfkd(args(straight, total)) == 0
    train_dfkd(args(split, stop))
    train_dfkd(args(split, total) + ["--resume"])
    a = torch.load(straight / "latest.pt", weights_only=True)
    b = torch.load(split / "latest.pt", weights_only=True)
    assert a["iteration"] == b["iteration"] == total
    return a, b


def checkpoint_tensors(tree, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor of a nested checkpoint, by its path."""
    if isinstance(tree, torch.Tensor):
        return {prefix: tree}
    out = {}
    if isinstance(tree, dict):
        for k, v in tree.items():
            out.update(checkpoint_tensors(v, f"{prefix}/{k}"))
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            out.update(checkpoint_tensors(v, f"{prefix}/{i}"))
    return out


def assert_same_tensors(a: dict, b: dict, parts=("players", "method", "rng")) -> dict:
    """Every tensor under ``parts`` of two checkpoints equal; returns ``a``'s, by path."""
    ta = checkpoint_tensors({k: a[k] for k in parts})
    tb = checkpoint_tensors({k: b[k] for k in parts})
    assert ta.keys() == tb.keys()
    for key, value in ta.items():
        assert torch.equal(value, tb[key]), key
    return ta


class FixedBatch:
    """A data-driven method over one fixed batch (``loss``: a StudentLoss block), for
    tests of the loop's critic and student phases."""

    def __init__(self, loss, x, y):
        self.loss, self.x, self.y = loss, x, y

    def student_loss(self, iteration):
        return self.loss(self.x, self.y)

    def critic_loss(self, iteration):
        return self.loss.critic_loss(self.x, self.y)


def save_teacher(folder, norm="batch", d_channels=2, names=("G", "D")):
    """A random resnet_6blocks teacher (ngf 8) and its discriminator, as the original code
    saves them."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    save_pix2pix_state(define_G("resnet_6blocks", 1, 1, ngf=8, norm=norm),
                       folder / f"latest_net_{names[0]}.pth")
    save_pix2pix_state(define_D("basic", d_channels, ndf=4, norm=norm),
                       folder / f"latest_net_{names[1]}.pth")
    return folder / f"latest_net_{names[0]}.pth"


#: tools/compress_gan.py flags that keep a test run tiny: batch 4, 8 evaluation pairs,
#: an evaluation (and grid) every 2 iterations, no FID, constant rates
TINY_COMPRESS = ("--set", "train.batch_size=4", "--set", "train.eval_every=2",
                 "--set", "train.eval_pairs=8", "--set", "train.log_every=1",
                 "--set", "train.image_every=2", "--set", "fid.classifier=",
                 "--set", "student.schedule.name=constant",
                 "--set", "discriminator.schedule.name=constant")


def compress_tiny(data_root, teacher, out, iters, *extra) -> int:
    """``tools/compress_gan.py`` on the fake data root with a student of ngf 4 and the
    :data:`TINY_COMPRESS` flags; ``extra`` flags come last (``--config``, ``--set``, ...)."""
    from dfkd.generator_distillation.train import main as compress_gan
    return compress_gan(["--teacher-ckpt", str(teacher), "--data-root", str(data_root),
                         "--out", str(out), "--iters", str(iters), "--student-ngf", "4",
                         *TINY_COMPRESS, *extra])

"""CIFAR parity: the published-settings configs parse and fit the code, and teacher
checkpoints saved by the public code of DFAD, ZSKT and the DataFree benchmark load as
they are. Fast: no training, no data; only model construction and tiny tensors.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import dfkd.nets  # noqa: F401  (registers the models)
from dfkd.core.config import CONFIG_DIR, build_config, read_options
from dfkd.core.errors import CheckpointError, DfkdError
from dfkd.core.registry import GENERATORS, MODELS
from dfkd.data import get_spec
from dfkd.discriminator_distillation import METHODS
from dfkd.discriminator_distillation.config import DFKDConfig
from dfkd.nets import build_model, load_weights

METHOD_NAMES = tuple(METHODS.names())
DATASETS = ("cifar10", "cifar100")
PAIRS = {"": ("resnet34", "resnet18"), "_wrn": ("wrn40_2", "wrn16_2")}
CIFAR_CONFIGS = sorted(CONFIG_DIR.glob("*/cifar*.yaml"))


def _config_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


# -- 1. configs ---------------------------------------------------------------------------

def test_every_method_has_an_embedded_default_config_and_every_config_a_method():
    """The one config a new method needs: configs/<method>/fashion_mnist.yaml."""
    for method in METHOD_NAMES:
        assert (CONFIG_DIR / method / "fashion_mnist.yaml").is_file(), method
    assert {p.parent.name for p in CIFAR_CONFIGS} <= set(METHOD_NAMES)


def test_a_method_with_cifar_configs_has_both_pairs_on_both_datasets():
    have = {_config_id(p) for p in CIFAR_CONFIGS}
    with_cifar = {p.parent.name for p in CIFAR_CONFIGS}
    assert {"dafl", "dfad", "zskt", "mad", "cgdd"} <= with_cifar  # the published recipes
    wanted = {f"{m}/{ds}{suffix}.yaml" for m in with_cifar for ds in DATASETS for suffix in PAIRS}
    assert wanted <= have, f"missing: {sorted(wanted - have)}"


def test_cli_default_config_is_the_resnet_pair():
    from dfkd.cli import config_path
    for method in {p.parent.name for p in CIFAR_CONFIGS}:
        for dataset in DATASETS:
            assert config_path(method, dataset) == CONFIG_DIR / method / f"{dataset}.yaml"


@pytest.mark.parametrize("path", CIFAR_CONFIGS, ids=_config_id)
def test_cifar_config_parses_and_names_registered_models(path):
    text = path.read_text()
    assert text.startswith("# "), f"{path} must open with a comment citing its sources"
    cfg = build_config(DFKDConfig(), [path])
    assert cfg.teacher in MODELS and cfg.student.model in MODELS
    suffix = "_wrn" if path.stem.endswith("_wrn") else ""
    assert (cfg.teacher, cfg.student.model) == PAIRS[suffix]
    assert cfg.train.iters > 0 and cfg.train.batch_size > 0
    for player in (cfg.student, cfg.generator):
        if player.schedule.name == "step":
            assert player.schedule.milestones == sorted(player.schedule.milestones)
            assert player.schedule.milestones[-1] < cfg.train.iters
    method = path.parent.name
    options = read_options(METHODS.get(method).Options, cfg.options, method)  # unknown keys fail
    for key, value in cfg.options.items():
        assert getattr(options, key) == value
    assert cfg.generator.model in GENERATORS
    if method == "mad":
        assert 0.0 < cfg.generator.ema < 1.0, "MAD needs its momentum generator (generator.ema)"


@pytest.mark.parametrize("path", [p for p in CIFAR_CONFIGS if not p.stem.endswith("_wrn")],
                         ids=_config_id)
def test_cifar_config_generator_builds_and_samples(path):
    """The configured generator (nz, ngf) builds for the dataset and makes 32x32 images."""
    from generators import build_generator, is_conditional
    cfg = build_config(DFKDConfig(), [path])
    spec = get_spec(path.stem)
    gen = build_generator(cfg.generator.model, cfg.generator.nz, cfg.generator.ngf,
                          spec.image_size, spec.in_channels, num_classes=spec.num_classes,
                          mean=spec.mean, std=spec.std)
    z = torch.randn(2, cfg.generator.nz)
    with torch.no_grad():
        images = gen(z, torch.tensor([0, spec.num_classes - 1])) if is_conditional(gen) else gen(z)
    assert images.shape == (2, 3, 32, 32)


# -- 2. checkpoint key compatibility ---------------------------------------------------------
# Module names written out from the public code, not from ours:
# - DFAD, VainF/Data-Free-Adversarial-Distillation network/resnet_8x.py (ResNet18_8x /
#   ResNet34_8x; the same layout as DAFL's resnet.py in huawei-noah/Efficient-Computing and
#   the DataFree/CMI benchmark's datafree/models/classifiers/resnet.py): conv1, bn1,
#   layer1..4 of BasicBlocks (conv1, bn1, conv2, bn2, and shortcut.0 conv / shortcut.1 BN
#   where the stride or width changes), classifier `linear`;
# - ZSKT, polo5/ZeroShotKnowledgeTransfer models/wresnet.py (= DataFree's wresnet.py):
#   conv1, block1..3.layer.N with bn1, conv1, bn2, conv2 and `convShortcut` (a bare 1x1
#   conv, no BN) where in != out, final bn1, classifier `fc`.

DFAD_RESNET18_MODULES = """
conv1 bn1
layer1.0.conv1 layer1.0.bn1 layer1.0.conv2 layer1.0.bn2
layer1.1.conv1 layer1.1.bn1 layer1.1.conv2 layer1.1.bn2
layer2.0.conv1 layer2.0.bn1 layer2.0.conv2 layer2.0.bn2 layer2.0.shortcut.0 layer2.0.shortcut.1
layer2.1.conv1 layer2.1.bn1 layer2.1.conv2 layer2.1.bn2
layer3.0.conv1 layer3.0.bn1 layer3.0.conv2 layer3.0.bn2 layer3.0.shortcut.0 layer3.0.shortcut.1
layer3.1.conv1 layer3.1.bn1 layer3.1.conv2 layer3.1.bn2
layer4.0.conv1 layer4.0.bn1 layer4.0.conv2 layer4.0.bn2 layer4.0.shortcut.0 layer4.0.shortcut.1
layer4.1.conv1 layer4.1.bn1 layer4.1.conv2 layer4.1.bn2
linear
"""

ZSKT_WRN16_2_MODULES = """
conv1
block1.layer.0.bn1 block1.layer.0.conv1 block1.layer.0.bn2 block1.layer.0.conv2
block1.layer.0.convShortcut
block1.layer.1.bn1 block1.layer.1.conv1 block1.layer.1.bn2 block1.layer.1.conv2
block2.layer.0.bn1 block2.layer.0.conv1 block2.layer.0.bn2 block2.layer.0.conv2
block2.layer.0.convShortcut
block2.layer.1.bn1 block2.layer.1.conv1 block2.layer.1.bn2 block2.layer.1.conv2
block3.layer.0.bn1 block3.layer.0.conv1 block3.layer.0.bn2 block3.layer.0.conv2
block3.layer.0.convShortcut
block3.layer.1.bn1 block3.layer.1.conv1 block3.layer.1.bn2 block3.layer.1.conv2
bn1
fc
"""

BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _expand(modules: str) -> set[str]:
    """Module names -> state_dict keys: BN (``bn*``, ``shortcut.1``) has five tensors,
    Linear (``linear``, ``fc``) weight and bias, every conv here is bias-free."""
    keys = set()
    for name in modules.split():
        leaf = name.rsplit(".", 1)[-1]
        if leaf.startswith("bn") or name.endswith("shortcut.1"):
            keys.update(f"{name}.{k}" for k in BN_KEYS)
        elif leaf in ("linear", "fc"):
            keys.update((f"{name}.weight", f"{name}.bias"))
        else:
            keys.add(f"{name}.weight")
    return keys


def _dfad_resnet_modules(blocks: tuple[int, ...]) -> str:
    """The resnet_8x layout for any BasicBlock depth (checked against the literal list)."""
    names = ["conv1", "bn1"]
    for stage, n in enumerate(blocks, start=1):
        for i in range(n):
            p = f"layer{stage}.{i}"
            names += [f"{p}.conv1", f"{p}.bn1", f"{p}.conv2", f"{p}.bn2"]
            if i == 0 and stage > 1:  # stride 2 and a new width
                names += [f"{p}.shortcut.0", f"{p}.shortcut.1"]
    return " ".join(names + ["linear"])


def _zskt_wrn_modules(depth: int, widen: int) -> str:
    n = (depth - 4) // 6
    names = ["conv1"]
    for group in (1, 2, 3):
        for i in range(n):
            p = f"block{group}.layer.{i}"
            names += [f"{p}.bn1", f"{p}.conv1", f"{p}.bn2", f"{p}.conv2"]
            if i == 0 and (group > 1 or widen != 1):  # in != out: 16 -> 16k, 16k -> 32k, ...
                names.append(f"{p}.convShortcut")
    return " ".join(names + ["bn1", "fc"])


EXPECTED_SHAPES = {  # (arch, classes) -> a few literal shapes from the public code
    ("resnet18", 10): {"conv1.weight": (64, 3, 3, 3), "layer1.0.conv1.weight": (64, 64, 3, 3),
                       "layer2.0.shortcut.0.weight": (128, 64, 1, 1),
                       "layer4.1.bn2.running_var": (512,), "linear.weight": (10, 512),
                       "linear.bias": (10,)},
    ("wrn16_2", 100): {"conv1.weight": (16, 3, 3, 3), "block1.layer.0.bn1.weight": (16,),
                       "block1.layer.0.conv1.weight": (32, 16, 3, 3),
                       "block1.layer.0.convShortcut.weight": (32, 16, 1, 1),
                       "block3.layer.1.conv2.weight": (128, 128, 3, 3),
                       "bn1.running_mean": (128,), "fc.weight": (100, 128)},
}


def test_literal_module_lists_match_the_layout_rules():
    assert _expand(DFAD_RESNET18_MODULES) == _expand(_dfad_resnet_modules((2, 2, 2, 2)))
    assert _expand(ZSKT_WRN16_2_MODULES) == _expand(_zskt_wrn_modules(16, 2))
    assert len(_expand(DFAD_RESNET18_MODULES)) == 20 + 20 * 5 + 2  # convs, BNs, linear
    assert len(DFAD_RESNET18_MODULES.split()) == 2 + 4 * 2 * 4 + 3 * 2 + 1


@pytest.mark.parametrize("arch, expected", [
    ("resnet18", _expand(DFAD_RESNET18_MODULES)),
    ("resnet34", _expand(_dfad_resnet_modules((3, 4, 6, 3)))),
    ("wrn16_2", _expand(ZSKT_WRN16_2_MODULES)),
    ("wrn40_2", _expand(_zskt_wrn_modules(40, 2))),
    ("wrn16_1", _expand(_zskt_wrn_modules(16, 1))),
])
def test_state_dict_keys_equal_the_public_layouts(arch, expected):
    own = set(build_model(arch, 3, 10).state_dict())
    assert own == expected, (f"missing {sorted(expected - own)[:5]}, "
                             f"extra {sorted(own - expected)[:5]}")


@pytest.mark.parametrize("arch, classes", sorted(EXPECTED_SHAPES))
def test_literal_shapes(arch, classes):
    sd = build_model(arch, 3, classes).state_dict()
    for key, shape in EXPECTED_SHAPES[(arch, classes)].items():
        assert tuple(sd[key].shape) == shape, key


def _foreign_state_dict(arch: str, modules: str, classes: int, seed: int = 0) -> dict:
    """A checkpoint as the public code saves it: the hand-written key names, random
    tensors (shapes from our model: these tests are about names and containers)."""
    gen = torch.Generator().manual_seed(seed)
    shapes = {k: v.shape for k, v in build_model(arch, 3, classes).state_dict().items()}
    sd = {}
    for key in sorted(_expand(modules)):
        if key.endswith("num_batches_tracked"):
            sd[key] = torch.tensor(1234)
        elif key.endswith("running_var"):
            sd[key] = torch.rand(shapes[key], generator=gen) + 0.5
        else:
            sd[key] = torch.randn(shapes[key], generator=gen)
    return sd


# How each code base writes its teacher file:
WRAPPERS = {
    # DFAD train_teacher.py: torch.save(model.state_dict(), ...)
    "raw": lambda sd: sd,
    # ZSKT last.pth.tar and DataFree/CMI checkpoints/pretrained/*.pth: {'state_dict': ...}
    "state_dict": lambda sd: {"state_dict": sd, "epoch": 200, "best_acc1": 0.95},
    # ... saved from a DataParallel model
    "module": lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}},
}


@pytest.mark.parametrize("wrap", sorted(WRAPPERS))
@pytest.mark.parametrize("arch, modules, classes, probe", [
    ("resnet18", DFAD_RESNET18_MODULES, 10, "linear.weight"),
    ("wrn16_2", ZSKT_WRN16_2_MODULES, 100, "block1.layer.0.convShortcut.weight"),
])
def test_public_checkpoints_load(tmp_path, wrap, arch, modules, classes, probe):
    sd = _foreign_state_dict(arch, modules, classes)
    path = tmp_path / f"{arch}.pth"
    torch.save(WRAPPERS[wrap](sd), path)
    model = build_model(arch, 3, classes)
    assert load_weights(model, path, arch) == {}  # foreign files carry no dfkd metadata
    own = model.state_dict()
    for key in (probe, "conv1.weight", "bn1.running_var"):
        assert torch.equal(own[key], sd[key]), key
    assert int(own["bn1.num_batches_tracked"]) == 1234


@pytest.mark.parametrize("arch, modules", [("resnet18", DFAD_RESNET18_MODULES),
                                           ("wrn16_2", ZSKT_WRN16_2_MODULES)])
def test_wrong_class_count_is_a_readable_error(tmp_path, arch, modules):
    torch.save({"state_dict": _foreign_state_dict(arch, modules, classes=100)},
               tmp_path / "cifar100_teacher.pth")
    with pytest.raises(CheckpointError) as info:
        load_weights(build_model(arch, 3, 10), tmp_path / "cifar100_teacher.pth", arch)
    assert isinstance(info.value, DfkdError)
    message = str(info.value)
    assert "class count mismatch" in message and "100 classes" in message, message
    assert "has 10" in message and "--dataset" in message, message


def test_classifier_named_fc_in_a_resnet_names_the_keys(tmp_path):
    """Some DataFree forks rename the CIFAR ResNet classifier to `fc`: say which keys."""
    sd = _foreign_state_dict("resnet18", DFAD_RESNET18_MODULES, 10)
    sd["fc.weight"], sd["fc.bias"] = sd.pop("linear.weight"), sd.pop("linear.bias")
    torch.save(sd, tmp_path / "fork.pth")
    with pytest.raises(CheckpointError, match=r"missing keys: linear\.weight.*"
                                              r"unexpected keys: fc\.weight"):
        load_weights(build_model("resnet18", 3, 10), tmp_path / "fork.pth", "resnet18")

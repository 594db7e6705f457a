"""Model zoo: shapes, checkpoint-compatible key layouts, loader errors."""
import pytest
import torch
import torch.nn as nn

from dfkd.core.errors import CheckpointError, DfkdError
from dfkd.core.registry import MODELS, UnknownNameError
from dfkd.nets import build_model, classifier_layer, extract_state_dict, load_weights, save_weights

CHEAP = ["lenet5", "lenet5_half", "resnet18", "wrn16_1", "wrn16_2"]


@pytest.mark.parametrize("name", CHEAP + ["tv_resnet18"])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shapes(name, channels):
    model = build_model(name, in_channels=channels, num_classes=7).eval()
    assert model(torch.randn(2, channels, 32, 32)).shape == (2, 7)


def test_every_registered_model_builds():
    for name in MODELS.names():
        model = build_model(name, in_channels=3, num_classes=10)
        assert isinstance(classifier_layer(model), nn.Linear)


def test_lenet_layout_and_widths():
    sd = build_model("lenet5", in_channels=1).state_dict()
    assert [k for k in sd if k.endswith("weight")] == [
        "conv1.weight", "conv2.weight", "conv3.weight", "fc1.weight", "fc2.weight"]
    assert sd["conv3.weight"].shape == (120, 16, 5, 5) and sd["fc1.weight"].shape == (84, 120)
    half = build_model("lenet5_half", in_channels=1).state_dict()
    assert half["conv1.weight"].shape == (3, 1, 5, 5) and half["fc2.weight"].shape == (10, 42)


def test_lenet_rejects_other_sizes():
    with pytest.raises(DfkdError, match="lenet5 expects 32x32 inputs, got 28x28"):
        build_model("lenet5", in_channels=1)(torch.randn(1, 1, 28, 28))
    with pytest.raises(DfkdError, match="lenet5_half expects 32x32 inputs, got 64x64"):
        build_model("lenet5_half", in_channels=1)(torch.randn(1, 1, 64, 64))


def test_cifar_resnet18_keys_match_dfad_layout():
    sd = build_model("resnet18").state_dict()
    expected = {
        "conv1.weight": (64, 3, 3, 3), "bn1.running_mean": (64,),
        "layer1.0.conv1.weight": (64, 64, 3, 3), "layer1.1.bn2.weight": (64,),
        "layer2.0.conv1.weight": (128, 64, 3, 3), "layer2.0.shortcut.0.weight": (128, 64, 1, 1),
        "layer2.0.shortcut.1.running_var": (128,), "layer4.1.conv2.weight": (512, 512, 3, 3),
        "linear.weight": (10, 512), "linear.bias": (10,),
    }
    for key, shape in expected.items():
        assert tuple(sd[key].shape) == shape, key
    assert "layer1.0.shortcut.0.weight" not in sd  # identity shortcut where shapes agree
    assert sum(k.startswith("layer3.") and k.endswith("conv1.weight") for k in sd) == 2
    r34 = build_model("resnet34").state_dict()
    assert sum(k.endswith(".conv1.weight") and k.startswith("layer3.") for k in r34) == 6


def test_wrn_keys_match_zskt_layout():
    sd = build_model("wrn16_2").state_dict()
    expected = {
        "conv1.weight": (16, 3, 3, 3), "block1.layer.0.bn1.weight": (16,),
        "block1.layer.0.conv1.weight": (32, 16, 3, 3),
        "block1.layer.0.convShortcut.weight": (32, 16, 1, 1),
        "block2.layer.1.conv2.weight": (64, 64, 3, 3), "bn1.weight": (128,),
        "fc.weight": (10, 128),
    }
    for key, shape in expected.items():
        assert tuple(sd[key].shape) == shape, key
    assert "block2.layer.1.convShortcut.weight" not in sd
    assert sum(k.endswith("conv1.weight") and ".layer." in k for k in
               build_model("wrn40_2").state_dict()) == 18  # 3 groups x 6 blocks


def test_save_load_round_trip(tmp_path):
    a, b = build_model("resnet18"), build_model("resnet18")
    save_weights(a, tmp_path / "m.pt", {"arch": "resnet18"})
    assert load_weights(b, tmp_path / "m.pt", "resnet18") == {"arch": "resnet18"}
    for (k, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), k


@pytest.mark.parametrize("wrap", [
    lambda sd: sd,
    lambda sd: {"model": sd, "epoch": 3},
    lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}, "best_acc": 0.9},
])
def test_foreign_checkpoint_formats(wrap, tmp_path):
    src = build_model("wrn16_1")
    torch.save(wrap(src.state_dict()), tmp_path / "c.pth")
    dst = build_model("wrn16_1")
    load_weights(dst, tmp_path / "c.pth", "wrn16_1")
    assert torch.equal(src.fc.weight, dst.fc.weight)


def test_old_checkpoint_without_bn_step_counter_loads(tmp_path):
    src = build_model("resnet18")
    sd = {k: v for k, v in src.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(sd, tmp_path / "old.pth")
    dst = build_model("resnet18")
    load_weights(dst, tmp_path / "old.pth", "resnet18")
    assert torch.equal(src.bn1.running_var, dst.bn1.running_var)


def test_class_count_mismatch_message(tmp_path):
    torch.save(build_model("lenet5", 1, num_classes=100).state_dict(), tmp_path / "t.pt")
    with pytest.raises(CheckpointError, match="checkpoint has 100 classes.*has 10"):
        load_weights(build_model("lenet5", 1, 10), tmp_path / "t.pt", "lenet5")


def test_channel_mismatch_message(tmp_path):
    torch.save(build_model("lenet5", 3).state_dict(), tmp_path / "t.pt")
    with pytest.raises(CheckpointError, match="3-channel images.*gives 1"):
        load_weights(build_model("lenet5", 1), tmp_path / "t.pt", "lenet5")


def test_wrong_architecture_names_keys(tmp_path):
    torch.save(build_model("resnet18").state_dict(), tmp_path / "t.pt")
    with pytest.raises(CheckpointError, match="does not look like a resnet34.*missing keys: layer1.2"):
        load_weights(build_model("resnet34"), tmp_path / "t.pt", "resnet34")


def test_corrupt_and_missing_files(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_weights(build_model("lenet5", 1), tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_weights(build_model("lenet5", 1), tmp_path / "none.pt")
    torch.save({"epoch": 3}, tmp_path / "nostate.pt")
    with pytest.raises(CheckpointError, match="no state_dict"):
        load_weights(build_model("lenet5", 1), tmp_path / "nostate.pt")


def test_extract_state_dict_strips_module_prefix():
    sd = extract_state_dict({"state_dict": {"module.a": torch.ones(1)}})
    assert list(sd) == ["a"]


def test_unknown_model_suggests():
    with pytest.raises(UnknownNameError, match="Did you mean 'resnet18'"):
        build_model("resnet19")
    with pytest.raises(UnknownNameError,
                       match="no classifier 'resnet19'. Did you mean 'tv_resnet18'"):
        build_model("tv_resnet19")

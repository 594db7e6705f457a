"""Loading generator files saved by the original pix2pix/CycleGAN code."""
from collections import OrderedDict

import pytest
import torch

from dfkd.core.errors import CheckpointError, ConfigError
from generators.gan_checkpoint import infer_pix2pix_config, load_pix2pix_state, save_pix2pix_state
from generators.pix2pix import define_D, define_G


def original_cyclegan_file(path, ngf=4):
    """A CycleGAN G_A as old PyTorch saved it: InstanceNorm running stats, DataParallel prefix."""
    torch.manual_seed(0)
    g = define_G("resnet_6blocks", 3, 3, ngf=ngf, norm="instance").eval()
    state = OrderedDict()
    for key, value in g.state_dict().items():
        state[f"module.{key}"] = value.clone()
    norms = ["model.2", "model.5", "model.8", "model.17", "model.20"]
    norms += [f"model.{i}.conv_block.{j}" for i in range(10, 16) for j in (2, 6)]
    for name in norms:
        c = g.get_submodule(name).num_features
        state[f"module.{name}.running_mean"] = torch.zeros(c)
        state[f"module.{name}.running_var"] = torch.ones(c)
        state[f"module.{name}.num_batches_tracked"] = torch.tensor(0)
    torch.save(state, path)
    return g


def test_load_original_cyclegan_file_infers_everything(tmp_path):
    path = tmp_path / "latest_net_G_A.pth"
    original = original_cyclegan_file(path)
    model, info = load_pix2pix_state(path)
    assert info == {"netG": "resnet_6blocks", "ngf": 4, "norm": "instance", "input_nc": 3,
                    "output_nc": 3, "use_dropout": False}
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), original(x))
    assert not model.training
    assert load_pix2pix_state(path, netG="resnet_6blocks", ngf=4, norm="instance")[1] == info


def test_save_writes_original_naming_and_roundtrips(tmp_path):
    g = define_G("unet_128", 1, 3, ngf=4, norm="batch", use_dropout=True)
    path = tmp_path / "latest_net_G.pth"
    save_pix2pix_state(torch.nn.DataParallel(g), path)
    raw = torch.load(path, weights_only=True)
    assert list(raw) == list(g.state_dict())
    assert all(v.device.type == "cpu" for v in raw.values())
    model, info = load_pix2pix_state(path)
    assert info == {"netG": "unet_128", "ngf": 4, "norm": "batch", "input_nc": 1,
                    "output_nc": 3, "use_dropout": True}
    assert define_G(**info).state_dict().keys() == raw.keys()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in raw.items())


def test_inference_of_dropout_and_blocks():
    for netG, norm, dropout in [("resnet_9blocks", "batch", True), ("resnet_9blocks", "batch", False),
                                ("resnet_6blocks", "instance", True), ("unet_256", "instance", False)]:
        state = define_G(netG, 3, 1, ngf=2, norm=norm, use_dropout=dropout).state_dict()
        info = infer_pix2pix_config(state)
        assert (info["netG"], info["norm"], info["ngf"], info["output_nc"]) == (netG, norm, 2, 1)
        if netG.startswith("resnet"):
            assert info["use_dropout"] is dropout


def test_old_batchnorm_file_without_step_counters():
    g = define_G("resnet_6blocks", 3, 3, ngf=4, norm="batch")
    state = {k: v for k, v in g.state_dict().items() if not k.endswith("num_batches_tracked")}
    _, info = load_pix2pix_state({"state_dict": state})
    assert info["norm"] == "batch"


@pytest.mark.parametrize("option, match", [
    ({"ngf": 8}, r"model\.1\.weight has shape \(4, 3, 7, 7\) in the file, expected \(8, 3, 7, 7\).*"
                 r"pass ngf=4 \(--ngf 4\)"),
    ({"netG": "resnet_9blocks"}, r"model\.16\.conv_block\.1\.weight is missing.*--netG resnet_6blocks"),
    ({"norm": "batch"}, r"model\.2\.weight is missing.*--norm instance"),
    ({"use_dropout": True}, r"conv_block\.6\.weight is missing.*use_dropout=False \(with --no_dropout\)"),
    ({"input_nc": 1}, r"--input_nc 3"),
])
def test_mismatches_name_key_shapes_and_fix(tmp_path, option, match):
    path = tmp_path / "latest_net_G_A.pth"
    original_cyclegan_file(path)
    with pytest.raises(CheckpointError, match=match):
        load_pix2pix_state(path, **option)


def test_unusable_files(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_pix2pix_state(tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match="discriminator.*latest_net_G"):
        load_pix2pix_state(define_D("basic", 6, 4).state_dict())
    with pytest.raises(CheckpointError, match="not a pix2pix/CycleGAN generator.*fc.weight"):
        load_pix2pix_state({"fc.weight": torch.zeros(2, 2)})
    with pytest.raises(ConfigError, match="unknown netG"):
        load_pix2pix_state(define_G("unet_128", ngf=2).state_dict(), netG="unet_64")
    state = define_G("resnet_6blocks", 3, 3, ngf=4, norm="instance").state_dict()
    state["model.10.conv_block.1.weight"] = torch.zeros(8, 16, 3, 3)  # a pruned channel count
    with pytest.raises(CheckpointError, match=r"conv_block\.1\.weight has shape \(8, 16, 3, 3\)"):
        load_pix2pix_state(state)

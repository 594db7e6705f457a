"""tools/train_gan.py: pix2pix on the embedded edges2fashion task, on tiny fake data."""
import json

import pytest
import torch

from dfkd.errors import ConfigError
from dfkd.train_gan import main as train_gan
from generators.gan_checkpoint import load_pix2pix_state

TINY = ["--set", "netG=resnet_6blocks", "--set", "ngf=4", "--set", "ndf=4",
        "--set", "train.batch_size=8", "--set", "train.eval_every=2", "--set", "train.eval_pairs=16",
        "--set", "train.log_every=1", "--set", "train.image_every=2"]


def run(data_root, out, iters, *extra):
    return train_gan(["--data-root", str(data_root), "--out", str(out), "--iters", str(iters),
                      *TINY, *extra])


def test_pix2pix_run_writes_original_format_files(fake_data_root, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(fake_data_root, out, 4) == 0
    assert "psnr=" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["iters"] == 4 and [h["iteration"] for h in metrics["history"]] == [2, 4]
    assert {"l1", "psnr"} <= set(metrics["history"][-1])
    model, info = load_pix2pix_state(out / "latest_net_G.pth")
    assert info["netG"] == "resnet_6blocks" and info["ngf"] == 4 and info["input_nc"] == 1
    assert model(torch.zeros(1, 1, 32, 32)).shape == (1, 1, 32, 32)
    assert any((out / "tb").iterdir())


def test_pix2pix_resume_equals_straight_run(fake_data_root, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    run(fake_data_root, straight, 4)
    run(fake_data_root, split, 2)
    run(fake_data_root, split, 4, "--resume")
    a = torch.load(straight / "latest.pt", weights_only=True)["players"]
    b = torch.load(split / "latest.pt", weights_only=True)["players"]
    for player in ("generator", "discriminator"):
        for key, value in a[player]["model"].items():
            assert torch.equal(value, b[player]["model"][key]), (player, key)


def test_bad_task_and_mode(fake_data_root, tmp_path):
    with pytest.raises(ConfigError, match="paired task"):
        run(fake_data_root, tmp_path / "a", 1, "--task", "sneaker2boot")
    with pytest.raises(ConfigError, match="gan_mode: unknown GAN loss 'wgan'"):
        run(fake_data_root, tmp_path / "b", 1, "--set", "gan_mode=wgan")

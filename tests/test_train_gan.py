"""tools/train_gan.py: pix2pix (edges2fashion) and CycleGAN (sneaker2boot) on tiny fake data."""
import json

import pytest
import torch

from dfkd.core.errors import ConfigError
from dfkd.gan.setup import GANSetup
from dfkd.gan_teachers import TranslationData
from dfkd.gan_teachers.cyclegan import CycleGAN, CycleGANOptions
from dfkd.gan_teachers.pix2pix import Pix2Pix, Pix2PixOptions
from dfkd.gan_teachers.train import main as train_gan
from dfkd.nets import build_model, save_weights
from generators.gan_checkpoint import load_pix2pix_state

TINY = ["--set", "netG=resnet_6blocks", "--set", "ngf=4", "--set", "ndf=4",
        "--set", "train.batch_size=8", "--set", "train.eval_every=2", "--set", "train.eval_pairs=16",
        "--set", "train.log_every=1", "--set", "train.image_every=2", "--set", "fid.classifier="]


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


# the linear decay depends on --iters, which the split run changes: hold the rate constant
CONSTANT = ["--set", "generator.schedule.name=constant", "--set",
            "discriminator.schedule.name=constant"]


def test_pix2pix_resume_equals_straight_run(fake_data_root, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    run(fake_data_root, straight, 4, *CONSTANT)
    run(fake_data_root, split, 2, *CONSTANT)
    run(fake_data_root, split, 4, "--resume", *CONSTANT)
    a = torch.load(straight / "latest.pt", weights_only=True)["players"]
    b = torch.load(split / "latest.pt", weights_only=True)["players"]
    for player in ("generator", "discriminator"):
        for key, value in a[player]["model"].items():
            assert torch.equal(value, b[player]["model"][key]), (player, key)


def test_bad_task_and_mode(fake_data_root, tmp_path):
    with pytest.raises(ConfigError, match="unknown --task 'horse2zebra'"):
        run(fake_data_root, tmp_path / "a", 1, "--task", "horse2zebra")
    with pytest.raises(ConfigError, match="gan_mode: unknown GAN loss 'wgan'"):
        run(fake_data_root, tmp_path / "b", 1, "--set", "options.gan_mode=wgan")


def test_loss_settings_are_the_task_models_options(fake_data_root, tmp_path):
    """The old top-level keys name their new place; each model takes only its own options
    (the task picks the model); nothing is written before the config is read."""
    with pytest.raises(ConfigError, match=r"^config key 'l1_weight' was renamed: use "
                                          r"'options.l1_weight'$"):
        run(fake_data_root, tmp_path / "a", 1, "--set", "l1_weight=50")
    with pytest.raises(ConfigError, match=r"'pool_size' was renamed: use 'options.pool_size'"):
        run(fake_data_root, tmp_path / "b", 1, "--task", "cyclegan", "--set", "pool_size=0")
    with pytest.raises(ConfigError, match=r"^method cyclegan: unknown config key "
                                          r"'options.l1_weight'"):
        run(fake_data_root, tmp_path / "c", 1, "--task", "cyclegan", "--set", "options.l1_weight=1")
    with pytest.raises(ConfigError, match=r"^method dcgan: unknown config key "
                                          r"'options.lambda_A'"):
        run(fake_data_root, tmp_path / "d", 1, "--task", "dcgan", "--set", "options.lambda_A=1")
    with pytest.raises(ConfigError, match=r"'options.l1_weight' must be >= 0, got -1"):
        run(fake_data_root, tmp_path / "e", 1, "--set", "options.l1_weight=-1")
    assert not any((tmp_path / name).exists() for name in "abcde")


def test_l1_weight_option_reaches_the_loss(fake_data_root, tmp_path):
    out = tmp_path / "run"
    assert run(fake_data_root, out, 1, "--set", "options.l1_weight=7") == 0
    saved = json.loads((out / "metrics.json").read_text())["config"]["options"]
    assert saved == {"gan_mode": "vanilla", "l1_weight": 7.0}
    g, d = Shift(0.5), torch.nn.Conv2d(2, 1, 1)
    x, y = torch.zeros(4, 1, 2, 2), torch.ones(4, 1, 2, 2)
    data, setup = TranslationData(x, y, paired=True), GANSetup(2, 0, torch.device("cpu"))
    losses = Pix2Pix(None, g, d, Pix2PixOptions(l1_weight=7.0), data, setup).student_loss(0)
    assert losses["l1"].item() == pytest.approx(0.5)  # |0.5 − 1|
    assert losses["loss"].item() == pytest.approx(losses["gan"].item() + 7 * 0.5)


def test_gan_teachers_take_no_teacher_and_pix2pix_needs_pairs():
    g, d = Shift(0.0), torch.nn.Conv2d(2, 1, 1)
    x = torch.zeros(4, 1, 2, 2)
    setup = GANSetup(2, 0, torch.device("cpu"))
    with pytest.raises(TypeError, match="pix2pix trains from data and takes no teacher"):
        Pix2Pix(g, g, d, Pix2PixOptions(), TranslationData(x, x, paired=True), setup)
    with pytest.raises(ConfigError, match="pix2pix needs paired data"):
        Pix2Pix(None, g, d, Pix2PixOptions(), TranslationData(x, x, paired=False), setup)
    with pytest.raises(ConfigError, match="batch_size 8 exceeds the 4 pairs"):
        Pix2Pix(None, g, d, Pix2PixOptions(), TranslationData(x, x, paired=True),
                GANSetup(8, 0, torch.device("cpu")))


class Shift(torch.nn.Module):
    def __init__(self, by: float) -> None:
        super().__init__()
        self.by = by

    def forward(self, x):
        return x + self.by


class Zero(torch.nn.Module):
    def forward(self, x):
        return torch.zeros(len(x), 1, 2, 2)


def test_cyclegan_losses_by_hand():
    """G_A = x + 1, G_B = x − 1: cycles are exact (0), identities are off by 1 everywhere
    (0.5·10·1 each), D outputs 0 so each LSGAN generator term is (0 − 1)² = 1."""
    gens = torch.nn.ModuleDict({"G_A": Shift(1.0), "G_B": Shift(-1.0)})
    discs = torch.nn.ModuleDict({"D_A": Zero(), "D_B": Zero()})
    a, b = torch.rand(6, 1, 4, 4), torch.rand(5, 1, 4, 4)
    data, setup = TranslationData(a, b, paired=False), GANSetup(2, 0, torch.device("cpu"))
    method = CycleGAN(None, gens, discs, CycleGANOptions(), data, setup)
    assert method.fake_a_pool.size == 50  # the published defaults: LSGAN, 10, 10, 0.5, 50
    losses = method.student_loss(0)
    assert float(losses["cycle_A"]) == pytest.approx(0, abs=1e-6)
    assert float(losses["idt_A"]) == pytest.approx(5) and float(losses["idt_B"]) == pytest.approx(5)
    assert float(losses["G_A"]) == 1 and float(losses["loss"]) == pytest.approx(12)
    d = method.adversary_loss(0)  # ½[(0 − 1)² + 0²] per discriminator
    assert float(d["D_A"]) == pytest.approx(0.5) and float(d["loss"]) == pytest.approx(1.0)
    assert "idt_A" not in CycleGAN(None, gens, discs, CycleGANOptions(lambda_identity=0), data,
                                   setup).student_loss(0)
    halved = CycleGAN(None, gens, discs, CycleGANOptions(lambda_A=5.0), data, setup)
    assert float(halved.student_loss(0)["idt_B"]) == pytest.approx(2.5)  # 0.5·λ_A·1


def run_cycle(data_root, out, iters, *extra):
    return run(data_root, out, iters, "--task", "cyclegan", "--set", "norm=instance", *extra)


def test_cyclegan_run_files_fid_and_exact_resume(fake_data_root, tmp_path, capsys):
    classifier = tmp_path / "lenet5.pt"
    save_weights(build_model("lenet5", in_channels=1, num_classes=10), classifier,
                 {"arch": "lenet5", "dataset": "fashion_mnist", "test_acc": 10.0})
    fid = ["--set", "fid.classifier=lenet5", "--set", f"fid.classifier_ckpt={classifier}"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert run_cycle(fake_data_root, straight, 4, *CONSTANT, *fid) == 0
    assert "FID features: classifier lenet5 trained on fashion_mnist" in capsys.readouterr().out
    metrics = json.loads((straight / "metrics.json").read_text())
    assert metrics["method"] == "cyclegan" and metrics["task"] == "sneaker2boot"
    assert {"fid_A2B", "fid_B2A", "cycle_l1_A"} <= set(metrics["history"][-1])
    assert metrics["best_fid_A2B"] == min(h["fid_A2B"] for h in metrics["history"])
    for name in ("G_A", "G_B"):
        model, info = load_pix2pix_state(straight / f"latest_net_{name}.pth")
        assert info["netG"] == "resnet_6blocks" and info["norm"] == "instance"
    assert (straight / "latest_net_D_A.pth").exists() and (straight / "latest_net_D_B.pth").exists()
    run_cycle(fake_data_root, split, 2, *CONSTANT)
    run_cycle(fake_data_root, split, 4, "--resume", *CONSTANT)
    a = torch.load(straight / "latest.pt", weights_only=True)
    b = torch.load(split / "latest.pt", weights_only=True)
    for key, value in a["players"]["generator"]["model"].items():  # image pools restored too
        assert torch.equal(value, b["players"]["generator"]["model"][key]), key
    assert torch.equal(a["method"]["fake_b_pool"]["images"], b["method"]["fake_b_pool"]["images"])


def test_every_gan_mode_trains_pix2pix(fake_data_root, tmp_path):
    for mode in ("lsgan", "hinge", "wgangp"):
        out = tmp_path / mode
        assert run(fake_data_root, out, 2, "--set", f"options.gan_mode={mode}") == 0
        config = json.loads((out / "metrics.json").read_text())["config"]
        assert config["options"]["gan_mode"] == mode

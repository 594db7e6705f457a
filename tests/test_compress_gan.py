"""tools/compress_gan.py: GAN Compression of pix2pix/CycleGAN generators, on tiny fake data."""
import json

import pytest
import torch
import torch.nn as nn
from conftest import compress_tiny, save_teacher

from dfkd.core.errors import CheckpointError, ConfigError, DfkdError
from dfkd.gan.setup import GANSetup
from dfkd.generator_distillation.gan_compression import (
    GANCompression,
    TranslationData,
    channel_mappings,
    feature_distillation,
)
from dfkd.nets import build_model, save_weights
from generators.gan_checkpoint import (
    load_discriminator_state,
    load_pix2pix_state,
    save_pix2pix_state,
)
from generators.pix2pix import define_D, define_G, distill_layers

Options = GANCompression.Options
SETUP = GANSetup(batch_size=3, seed=0, device=torch.device("cpu"))


def run(data_root, teacher, out, iters, *extra):
    return compress_tiny(data_root, teacher, out, iters, "--set", "ndf=4", *extra)


def test_feature_distillation_by_hand():
    """Identity 1×1 maps: the loss is the plain mean squared error, summed over layers."""
    s = [torch.ones(2, 3, 4, 4), torch.zeros(2, 3, 2, 2)]
    t = [torch.full((2, 3, 4, 4), 3.0), torch.full((2, 3, 2, 2), -1.0)]
    maps = nn.ModuleList(nn.Conv2d(3, 3, 1) for _ in s)
    for m in maps:
        nn.init.dirac_(m.weight), nn.init.zeros_(m.bias)
    assert float(feature_distillation(s, t, maps)) == pytest.approx(4.0 + 1.0)


def test_mappings_lift_student_channels_to_teacher_channels():
    teacher = define_G("resnet_9blocks", 1, 1, ngf=8)
    student = define_G("resnet_9blocks", 1, 1, ngf=2)
    layers = distill_layers("resnet_9blocks")
    maps = channel_mappings(teacher, student, layers, torch.zeros(2, 1, 16, 16))
    assert [(m.in_channels, m.out_channels) for m in maps] == [(8, 32)] * 4
    assert teacher.training and student.training  # modes restored after the probe
    with pytest.raises(DfkdError, match="has no module 'model.99'"):
        channel_mappings(teacher, student, ["model.99"], torch.zeros(2, 1, 16, 16))


def test_student_loss_terms_and_gradients():
    torch.manual_seed(0)
    teacher = define_G("resnet_6blocks", 1, 1, ngf=8).eval()
    student = define_G("resnet_6blocks", 1, 1, ngf=4)
    disc = define_D("basic", 2, ndf=4)
    x, y = torch.rand(6, 1, 32, 32) * 2 - 1, torch.rand(6, 1, 32, 32) * 2 - 1
    method = GANCompression(teacher, student, disc,
                            Options(distill_layers=distill_layers("resnet_6blocks"),
                                    recon_weight=10, distill_weight=2),
                            TranslationData(x, y, True), SETUP)
    losses = method.student_loss(0)
    idx = method.order.indices(0)
    with torch.no_grad():
        recon = float(nn.functional.l1_loss(student(x[idx]), y[idx]))
    assert float(losses["recon"]) == pytest.approx(recon, rel=1e-4)  # to the target (paired)
    expected = losses["gan"] + 10 * losses["recon"] + 2 * losses["distill"]
    assert float(losses["loss"]) == pytest.approx(float(expected), rel=1e-5)
    losses["loss"].backward()
    assert all(p.grad is not None for p in method.mappings.parameters())
    assert all(p.grad is None for p in teacher.parameters())
    no_features = GANCompression(teacher, student, disc,
                                 Options(distill_layers=distill_layers("resnet_6blocks"),
                                         distill_weight=0), TranslationData(x, y, True), SETUP)
    assert "distill" not in no_features.student_loss(0) and len(no_features.mappings) == 0


def test_unpaired_recon_is_to_the_teacher_output():
    torch.manual_seed(0)
    teacher = define_G("resnet_6blocks", 1, 1, ngf=8, norm="instance").eval()
    student = define_G("resnet_6blocks", 1, 1, ngf=4, norm="instance")
    x, reals = torch.rand(6, 1, 32, 32) * 2 - 1, torch.rand(9, 1, 32, 32) * 2 - 1
    method = GANCompression(teacher, student, define_D("basic", 1, ndf=4),
                            Options(gan_mode="lsgan"), TranslationData(x, reals, False), SETUP)
    idx = method.order.indices(0)
    with torch.no_grad():
        recon = float(nn.functional.l1_loss(student(x[idx]), teacher(x[idx])))
    assert float(method.student_loss(0)["recon"]) == pytest.approx(recon, rel=1e-4)
    assert method.adversary_loss(0)["loss"].shape == ()


def test_pix2pix_compression_run(fake_data_root, tmp_path, capsys):
    teacher = save_teacher(tmp_path / "teacher")
    out = tmp_path / "run"
    assert run(fake_data_root, teacher, out, 4) == 0
    printed = capsys.readouterr().out
    assert "discriminator from" in printed and "distilled layers: model.9, model.11" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"psnr_teacher", "ssim_teacher", "psnr", "ssim", "l1"} <= set(metrics["history"][-1])
    assert metrics["teacher_macs"] > 3 * metrics["student_macs"]  # ngf 8 -> 4
    student, info = load_pix2pix_state(out / "latest_net_G.pth")
    assert info["ngf"] == 4 and info["netG"] == "resnet_6blocks"
    state = torch.load(out / "latest.pt", weights_only=True)
    assert len([k for k in state["players"]["student"]["aux"] if k.endswith("weight")]) == 4


def test_cyclegan_compression_resume_is_exact(fake_data_root, tmp_path):
    teacher = save_teacher(tmp_path / "teacher", norm="instance", d_channels=1,
                           names=("G_A", "D_A"))
    extra = ["--task", "cyclegan", "--set", "norm=instance"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    run(fake_data_root, teacher, straight, 4, *extra)
    run(fake_data_root, teacher, split, 2, *extra)
    run(fake_data_root, teacher, split, 4, "--resume", *extra)
    a = torch.load(straight / "latest.pt", weights_only=True)["players"]
    b = torch.load(split / "latest.pt", weights_only=True)["players"]
    for part in ("model", "aux"):
        for key, value in a["student"][part].items():
            assert torch.equal(value, b["student"][part][key]), (part, key)
    metrics = json.loads((straight / "metrics.json").read_text())
    assert metrics["discriminator"].endswith("latest_net_D_A.pth")
    assert "psnr" not in metrics["history"][-1]  # no ground truth for unpaired data


def test_bad_inputs_are_named(fake_data_root, tmp_path):
    teacher = save_teacher(tmp_path / "teacher")
    with pytest.raises(CheckpointError, match="no teacher generator at"):
        run(fake_data_root, tmp_path / "missing.pth", tmp_path / "a", 1)
    with pytest.raises(CheckpointError, match=r"the file holds resnet_6blocks.*--netG resnet_6blocks"):
        run(fake_data_root, teacher, tmp_path / "b", 1, "--netG", "resnet_9blocks")
    with pytest.raises(CheckpointError, match="takes 2 channels, this task needs 1"):
        run(fake_data_root, teacher, tmp_path / "c", 1, "--task", "cyclegan")
    with pytest.raises(CheckpointError, match="not a PatchGAN discriminator"):
        run(fake_data_root, teacher, tmp_path / "d", 1, "--set", f"discriminator_ckpt={teacher}")
    with pytest.raises(ConfigError, match="unknown --task"):
        run(fake_data_root, teacher, tmp_path / "e", 1, "--task", "horse2zebra")


def test_discriminator_file_layout_is_read_off_its_keys():
    for norm, n_layers in (("batch", 3), ("instance", 2)):
        d = define_D("n_layers", 4, ndf=8, n_layers_D=n_layers, norm=norm)
        model, info = load_discriminator_state(d.state_dict())
        assert info == {"input_nc": 4, "ndf": 8, "n_layers_D": n_layers, "norm": norm}
        for key, value in d.state_dict().items():
            assert torch.equal(model.state_dict()[key], value)


def test_unet_teacher_needs_named_layers(fake_data_root, tmp_path):
    (tmp_path / "unet").mkdir()
    teacher = tmp_path / "unet" / "latest_net_G.pth"
    save_pix2pix_state(define_G("unet_128", 1, 1, ngf=2), teacher)
    with pytest.raises(ConfigError, match="name the modules with distill_layers"):
        run(fake_data_root, teacher, tmp_path / "a", 1)


def test_wrong_files_and_keys_are_named(fake_data_root, tmp_path):
    teacher = save_teacher(tmp_path / "teacher")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="garbage.pth"):
        run(fake_data_root, garbage, tmp_path / "a", 1)
    classifier = tmp_path / "lenet5.pt"
    save_weights(build_model("lenet5", in_channels=1, num_classes=10), classifier, {"arch": "lenet5"})
    with pytest.raises(CheckpointError, match="not a pix2pix/CycleGAN generator"):
        run(fake_data_root, classifier, tmp_path / "b", 1)
    with pytest.raises(ConfigError, match="student_ngff"):
        run(fake_data_root, teacher, tmp_path / "c", 1, "--set", "student_ngff=8")
    run(fake_data_root, teacher, tmp_path / "d", 2)
    other = save_teacher(tmp_path / "other")
    with pytest.raises(CheckpointError, match="use another --out"):  # resume with another teacher
        run(fake_data_root, other, tmp_path / "d", 4, "--resume")
    assert (tmp_path / "d" / "latest.pt").exists()  # the run's checkpoint is kept


def test_method_options_are_read_with_the_config(fake_data_root, tmp_path):
    teacher = save_teacher(tmp_path / "teacher")
    with pytest.raises(ConfigError, match="'gan_weight' was renamed: use 'options.gan_weight'"):
        run(fake_data_root, teacher, tmp_path / "a", 1, "--set", "gan_weight=2")
    with pytest.raises(ConfigError, match="method gan_compression: unknown config key "
                                          "'options.recon_wieght'"):
        run(fake_data_root, teacher, tmp_path / "b", 1, "--set", "options.recon_wieght=2")
    with pytest.raises(DfkdError, match="unknown generator-distillation method 'no_such_method'"):
        run(fake_data_root, teacher, tmp_path / "c", 1, "--set", "method=no_such_method")
    assert not any((tmp_path / name).exists() for name in "abc")

"""DCD (Hu et al., CVPR 2023): the loss by hand, its adapters and discriminator layers, which
player each loss moves, bad options, and tools/compress_gan.py runs with exact --resume."""
import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import compress_tiny, save_teacher

from dfkd.core.errors import ConfigError
from dfkd.gan.setup import GANSetup, TranslationData
from dfkd.generator_distillation.dcd import DCD
from dfkd.generator_distillation.dcd_losses import (
    activation_layers,
    dcd_loss,
    discriminator_features,
    feature_adapter,
    generator_adapters,
)
from dfkd.losses.translation import gram_matrix
from generators.pix2pix import define_D, define_G, distill_layers

SETUP = GANSetup(batch_size=3, seed=0, device=torch.device("cpu"))
LAYERS = distill_layers("resnet_6blocks")


def tiny_d() -> nn.Module:
    """D = conv1×1 (identity on 2 channels) → LeakyReLU(0.2) → conv1×1 to 1 channel."""
    d = nn.Sequential(nn.Conv2d(2, 2, 1, bias=False), nn.LeakyReLU(0.2), nn.Conv2d(2, 1, 1))
    with torch.no_grad():
        nn.init.dirac_(d[0].weight)
    return d


def test_dcd_loss_by_hand():
    """Identity adapters: layer 1 compares LeakyReLU(1) = 1 with LeakyReLU(−1) = −0.2 (|1.2|),
    layer 2 compares LeakyReLU(2) = 2 with LeakyReLU(0.5) = 0.5 (|1.5|): 2.7 in all."""
    s = [torch.ones(2, 2, 3, 3), torch.full((2, 2, 2, 2), 2.0)]
    t = [-torch.ones(2, 2, 3, 3), torch.full((2, 2, 2, 2), 0.5)]
    ident = nn.ModuleList([nn.Identity(), nn.Identity()])
    loss = dcd_loss(tiny_d(), "1", s, t, ident, ident)
    assert float(loss) == pytest.approx(1.2 + 1.5)
    # resized (bilinear) constant maps keep their values
    assert float(dcd_loss(tiny_d(), "1", s, t, ident, ident, size=(5, 5))) == pytest.approx(2.7)
    with pytest.raises(ValueError, match="one student map, teacher map and adapter each"):
        dcd_loss(tiny_d(), "1", s, t[:1], ident, ident)


def test_adapters_and_discriminator_layers():
    adapter = feature_adapter(8, 6)
    assert [type(m) for m in adapter] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert adapter[0].bias is None and adapter[0].weight.std() < 0.1
    assert (adapter[1].weight - 1).abs().max() < 0.2 and not adapter[1].bias.any()
    assert activation_layers(define_D("basic", 2, ndf=4)) == ["model.1", "model.4", "model.7",
                                                             "model.10"]
    teacher = define_G("resnet_6blocks", 1, 1, ngf=8)
    student = define_G("resnet_6blocks", 1, 1, ngf=2)
    s_ad, t_ad, size = generator_adapters(teacher, student, LAYERS, torch.zeros(2, 1, 32, 32), 2)
    assert [(a[0].in_channels, a[0].out_channels) for a in s_ad] == [(8, 2)] * 4
    assert [(a[0].in_channels, a[0].out_channels) for a in t_ad] == [(32, 2)] * 4
    assert size == (8, 8) and teacher.training and student.training


def make(paired=True, size=32, **options):
    torch.manual_seed(0)
    teacher = define_G("resnet_6blocks", 1, 1, ngf=8).eval()
    student = define_G("resnet_6blocks", 1, 1, ngf=4)
    disc = define_D("basic", 2 if paired else 1, ndf=4)
    x, y = torch.rand(6, 1, size, size) * 2 - 1, torch.rand(6, 1, size, size) * 2 - 1
    opts = DCD.Options(**{"distill_layers": LAYERS, "dcd_input": "image", **options})
    return DCD(teacher, student, disc, opts, TranslationData(x, y, paired), SETUP), x


def test_student_loss_terms_by_hand():
    """GAN on D_T(x, G_S(x)) (the student's own image, not the teacher's); style and feature
    on D_T's activations against the teacher's image; the total is the weighted sum."""
    method, x = make(style_weight=3.0, feature_weight=5.0, gan_weight=2.0, distill_weight=7.0)
    losses = method.student_loss(0)
    xb = x[method.order.indices(0)]
    d, names = method.discriminator, ["model.1", "model.4", "model.7", "model.10"]
    with torch.no_grad():
        fake, teach = method.student(xb), method.teacher(xb)
        logits, s = discriminator_features(d, torch.cat([xb, fake], 1), names)
        t_logits, t = discriminator_features(d, torch.cat([xb, teach], 1), names)
    assert float(losses["gan"]) == pytest.approx(float(-logits.mean()), rel=1e-5)  # hinge
    assert float(losses["gan"]) != pytest.approx(float(-t_logits.mean()), rel=1e-3)
    style = sum((gram_matrix(a) - gram_matrix(b)).abs().mean() for a, b in zip(s, t))
    assert float(losses["style"]) == pytest.approx(float(style), rel=1e-4)
    assert float(losses["feature"]) == pytest.approx(float(F.l1_loss(s[1], t[1])), rel=1e-4)
    total = 2 * losses["gan"] + 3 * losses["style"] + 5 * losses["feature"] + 7 * losses["dcd"]
    assert float(losses["loss"]) == pytest.approx(float(total), rel=1e-5)
    unpaired, _ = make(paired=False, gan_mode="lsgan")
    assert set(unpaired.student_loss(0)) == {"loss", "gan", "style", "feature", "dcd"}
    # 128×128 images give 32×32 maps, which D_T takes as they are (the official dcd_input)
    as_maps, _ = make(size=128, dcd_input="map")
    assert as_maps.dcd_size is None and float(as_maps.student_loss(0)["dcd"]) > 0


@pytest.mark.parametrize("adapters", ["frozen", "trained"])
def test_each_loss_moves_only_its_player(adapters):
    method, _ = make(teacher_adapters=adapters)
    d = method.discriminator
    d.requires_grad_(False)  # the loop freezes the other players while one steps
    method.student_loss(0)["loss"].backward()
    assert all(p.grad is not None for p in method.student.parameters())
    assert all(p.grad is not None for p in method.student_adapters.parameters())
    teacher_side = [p.grad is not None for p in method.teacher_adapters.parameters()]
    assert all(teacher_side) if adapters == "trained" else not any(teacher_side)
    assert all(p.grad is None for p in [*method.teacher.parameters(), *d.parameters()])
    d.requires_grad_(True)
    method.student.zero_grad(set_to_none=True)
    method.adversary_loss(0)["loss"].backward()
    assert all(p.grad is not None for p in d.parameters())
    assert all(p.grad is None for p in method.student.parameters())


def test_discriminator_fakes():
    """D_T judges the teacher's outputs (official), the student's, or both (twice the batch)."""
    seen = {}
    for fakes in ("teacher", "student", "both"):
        method, _ = make(discriminator_fakes=fakes)
        sizes = []
        hook = method.discriminator.register_forward_hook(lambda m, a, o: sizes.append(len(a[0])))
        method.adversary_loss(0)
        hook.remove()
        seen[fakes] = sizes
    assert seen == {"teacher": [3, 3], "student": [3, 3], "both": [3, 6]}


@pytest.mark.parametrize("options, match", [
    ({"dcd_input": "map"}, "cannot take 8x8 maps: .*at model.10.*options.dcd_input=image"),
    ({"discriminator_fakes": "real"}, "options.discriminator_fakes must be one of"),
    ({"teacher_adapters": "learned"}, "options.teacher_adapters must be one of"),
    ({"perceptual_features": "vgg16"}, "must be teacher_discriminator"),
    ({"dcd_layer": "model.99"}, "options.dcd_layer: the discriminator has no module 'model.99'"),
    ({"style_layers": ["model.2", "x"]}, "options.style_layers: .* no module 'x'"),
    ({"gan_mode": "wgan"}, "gan_mode"),
    ({"student_init": "pruned"}, "options.student_init must be one of"),
])
def test_bad_options_are_one_config_error(options, match):
    with pytest.raises(ConfigError, match=match):
        make(**options)


def run(data_root, teacher, out, iters, config, *extra):
    return compress_tiny(data_root, teacher, out, iters, "--config",
                         f"configs/dcd/{config}.yaml", "--set", "ndf=4", *extra)


def test_pix2pix_run(fake_data_root, tmp_path, capsys):
    teacher = save_teacher(tmp_path / "teacher")
    assert run(fake_data_root, teacher, tmp_path / "run", 2, "edges2fashion") == 0
    printed = capsys.readouterr().out
    assert "discriminator fresh" in printed and "scratch" in printed
    assert "distilled layers: model.9, model.11, model.13, model.15" in printed
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["method"] == "dcd" and "psnr" in metrics["history"][-1]
    state = torch.load(tmp_path / "run" / "latest.pt", weights_only=True)["players"]
    aux = state["student"]["aux"]
    assert len([k for k in aux if k.startswith("student_adapters") and k.endswith("0.weight")]) == 4
    assert any(k.startswith("teacher_adapters") for k in aux)
    with pytest.raises(ConfigError, match="method dcd: unknown config key 'options.recon_weight'"):
        run(fake_data_root, teacher, tmp_path / "bad", 1, "edges2fashion",
            "--set", "options.recon_weight=1")


def test_cyclegan_resume_is_exact(fake_data_root, tmp_path):
    """Stopped after 2 iterations and resumed to 4 = 4 straight, bit for bit, with D_T
    started from the teacher's own file (discriminator_ckpt auto)."""
    teacher = save_teacher(tmp_path / "teacher", norm="instance", d_channels=1,
                           names=("G_A", "D_A"))
    extra = ["--task", "cyclegan", "--set", "discriminator_ckpt=auto"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    run(fake_data_root, teacher, straight, 4, "sneaker2boot", *extra)
    run(fake_data_root, teacher, split, 2, "sneaker2boot", *extra)
    run(fake_data_root, teacher, split, 4, "sneaker2boot", "--resume", *extra)
    a = torch.load(straight / "latest.pt", weights_only=True)["players"]
    b = torch.load(split / "latest.pt", weights_only=True)["players"]
    for player, part in (("student", "model"), ("student", "aux"), ("discriminator", "model")):
        for key, value in a[player][part].items():
            assert torch.equal(value, b[player][part][key]), (player, part, key)
    metrics = json.loads((straight / "metrics.json").read_text())
    assert metrics["discriminator"].endswith("latest_net_D_A.pth")

"""OMGD (Ren et al. 2021): losses by hand, the deep teacher and shared D, who gets which
gradient, the perceptual networks, errors, and tools/compress_gan.py runs with exact resume."""
import json

import pytest
import torch
import torch.nn as nn
from conftest import compress_tiny

import dfkd.generator_distillation.omgd  # noqa: F401  (registers "omgd")
from dfkd.core.errors import CheckpointError, ConfigError
from dfkd.gan.perceptual import DiscriminatorFeatures, VGG16Features, build_perceptual
from dfkd.gan.setup import GANSetup, TranslationData
from dfkd.generator_distillation.omgd import (
    OMGD,
    channel_distillation,
    connector,
    output_distillation,
)
from dfkd.generator_distillation.omgd_teachers import (
    DeepResnetGenerator,
    ExpansionResnetBlock,
    deep_head,
    judge_deep,
)
from generators.gan_checkpoint import save_pix2pix_state
from generators.pix2pix import define_D, define_G, distill_layers

SETUP = GANSetup(batch_size=3, seed=0, device=torch.device("cpu"))
LAYERS = distill_layers("resnet_6blocks")


def pix2pix_method(**options):
    torch.manual_seed(0)
    x, y = torch.rand(6, 1, 32, 32) * 2 - 1, torch.rand(6, 1, 32, 32) * 2 - 1
    teacher, student = define_G("resnet_6blocks", 1, 1, ngf=8), define_G("resnet_6blocks", 1, 1, ngf=4)
    disc = define_D("basic", 2, ndf=4)
    opts = OMGD.Options(distill_layers=LAYERS, deep_ngf=2, **options)
    return OMGD(teacher, student, disc, opts, TranslationData(x, y, True), SETUP)


def test_channel_distillation_by_hand():
    """Identity connectors: Σ_l mean over (n, c) of the squared gap of channel means."""
    s = [torch.full((2, 3, 4, 4), 2.0), torch.zeros(2, 5, 2, 2)]
    t = [torch.zeros(2, 3, 4, 4), torch.full((2, 5, 2, 2), -1.0)]
    t[0][:, 0, :2] = 4.0  # channel 0 mean 2: no gap there
    ident = nn.ModuleList([nn.Identity(), nn.Identity()])
    assert float(channel_distillation(s, t, ident)) == pytest.approx((0 + 4 + 4) / 3 + 1.0)
    a = connector(3, 6)
    assert [type(m) for m in a] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU] and a[0].bias is None
    assert a(torch.rand(2, 3, 4, 4)).shape == (2, 6, 4, 4)


def test_output_distillation_by_hand():
    img = torch.zeros(1, 1, 4, 4)
    img[0, 0, :, 2:] = 1.0  # one vertical edge of height 4: TV = 4
    maps = [torch.rand(1, 2, 4, 4), torch.rand(1, 3, 2, 2)]
    w = {"ssim": 10.0, "style": 1e4, "feature": 10.0, "tv": 0.5}
    same = output_distillation(img, img, maps, [m.clone() for m in maps], 1, w)
    assert float(same["ssim"]) == pytest.approx(0.0, abs=1e-5)
    assert float(same["style"]) == 0 and float(same["feature"]) == 0
    assert float(same["tv"]) == pytest.approx(0.5 * 4)
    other = [maps[0], maps[1] + 1.0]
    diff = output_distillation(img, img, maps, other, 1, w)
    assert float(diff["feature"]) == pytest.approx(10.0)  # only map 1 counts, L1 = 1
    assert float(diff["style"]) > 0


def test_deep_teacher_and_shared_discriminator():
    block = ExpansionResnetBlock(4, "instance")
    assert block.conv_block[1].out_channels == 16 and block(torch.rand(2, 4, 8, 8)).shape == (2, 4, 8, 8)
    deep = DeepResnetGenerator(1, 1, ngf=2, n_blocks=6)
    assert deep(torch.rand(2, 1, 32, 32)).shape == (2, 1, 32, 32)
    assert sum(isinstance(m, ExpansionResnetBlock) for m in deep.modules()) == 6  # 2 + 2 + 2
    disc = define_D("basic", 2, ndf=4)
    head = deep_head(disc)
    x = torch.rand(2, 2, 32, 32)
    assert judge_deep(disc, head, x).shape == disc(x).shape
    assert not torch.equal(judge_deep(disc, head, x), disc(x))  # its own head
    judge_deep(disc, head, x).mean().backward()
    assert disc.model[0].weight.grad is not None and disc.model[-1].weight.grad is None
    with pytest.raises(ConfigError, match="shares a PatchGAN"):
        deep_head(nn.Conv2d(2, 1, 3))


def test_adversary_phase_gradients_go_to_their_own_networks():
    """D's gradient is that of its own loss alone; every teacher gets the teachers' terms;
    the student none. The student phase (D frozen by the loop) fills only the student's."""
    method = pix2pix_method()
    disc = method.discriminator
    assert {"omgd_online.wide_teacher.model.1.weight", "omgd_online.deep_head.8.weight"} <= set(
        disc.state_dict())
    losses = method.adversary_loss(0)
    judge = method.judge_params
    d_only = torch.autograd.grad(losses["D_w"] + losses["D_d"], judge, retain_graph=True,
                                 allow_unused=True)
    losses["loss"].backward()
    for p, g in zip(judge, d_only):
        assert torch.allclose(p.grad, g if g is not None else torch.zeros_like(p))
    assert all(p.grad is not None for t in method.teacher_generators() for p in t.parameters())
    assert all(p.grad is None for p in method.student.parameters())
    disc.zero_grad(set_to_none=True)
    disc.requires_grad_(False)  # as the loop does in the student's phase
    cached = method._cache[2][0].clone()
    student = method.student_loss(0)
    assert set(student) == {"loss", "cd", *(f"{k}_{t}" for k in ("ssim", "style", "feature", "tv")
                                            for t in "wd")}
    assert torch.equal(method._teacher_side(0)[1][0], cached)  # the adversary phase's outputs
    student["loss"].backward()
    assert all(p.grad is not None for p in method.student.parameters())
    assert all(p.grad is not None for p in method.connectors.parameters())
    assert all(p.grad is None for p in disc.parameters())


def test_cyclegan_variant_draws_its_own_student_batches():
    torch.manual_seed(0)
    teacher = define_G("resnet_6blocks", 1, 1, ngf=8, norm="instance")
    student = define_G("resnet_6blocks", 1, 1, ngf=4, norm="instance")
    data = TranslationData(torch.rand(6, 1, 32, 32) * 2 - 1, torch.rand(9, 1, 32, 32) * 2 - 1, False)
    method = OMGD(teacher, student, define_D("basic", 1, ndf=4, norm="instance"),
                  OMGD.Options(distill_layers=LAYERS, student_batches="own"), data, SETUP)
    assert method.variant == "cyclegan" and len(method.teachers) == 1
    assert {"D", "teacher_G_A", "teacher_cycle_B"} <= set(method.adversary_loss(0))
    first, second = method._teacher_side(0)[0], method._teacher_side(0)[0]
    assert method.draws == 2 and not torch.equal(first, second)
    assert "ssim_t" in method.student_loss(0) and method.state_dict()["draws"] == 3


def test_perceptual_networks(tmp_path):
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    features = make_layers(cfgs["D"])[:23]  # torchvision's vgg16().features, without its head
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, tmp_path / "v.pth")
    net = VGG16Features(tmp_path / "v.pth")
    maps = net(torch.rand(2, 1, 32, 32) * 2 - 1)
    assert [m.shape[1] for m in maps] == [64, 128, 256, 512] and maps[3].shape[-1] == 4
    assert not any(p.requires_grad for p in net.parameters()) and not net.train().training
    torch.save({"0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="not a torchvision VGG16"):
        VGG16Features(tmp_path / "bad.pth")
    with pytest.raises(ConfigError, match="needs options.vgg_weights"):
        build_perceptual("vgg16", "", None, False, torch.device("cpu"))
    disc = define_D("basic", 2, ndf=4)
    feats = DiscriminatorFeatures(disc, conditional=True)(torch.rand(2, 1, 32, 32),
                                                          torch.rand(2, 1, 32, 32))
    assert [m.shape[1] for m in feats] == [4, 8, 16, 32] and disc.training


def test_bad_options_are_named():
    with pytest.raises(ConfigError, match="options.variant must be one of"):
        pix2pix_method(variant="pix2pixx")
    with pytest.raises(ConfigError, match="options.perceptual must be one of"):
        pix2pix_method(perceptual="clip")
    teacher, student = define_G("resnet_6blocks", 1, 1, ngf=8), define_G("resnet_6blocks", 1, 1, ngf=4)
    unpaired = TranslationData(torch.rand(6, 1, 32, 32), torch.rand(6, 1, 32, 32), False)
    with pytest.raises(ConfigError, match="this task is unpaired"):
        OMGD(teacher, student, define_D("basic", 1, ndf=4), OMGD.Options(variant="pix2pix"),
             unpaired, SETUP)
    with pytest.raises(ConfigError, match="teacher_init: scratch"):
        OMGD(teacher, student, define_D("basic", 1, ndf=4), OMGD.Options(teacher_init="checkpoint"),
             unpaired, SETUP)


def test_checkpoint_init_starts_the_wide_teacher_from_the_file():
    method = pix2pix_method(teacher_init="checkpoint")
    for a, b in zip(method.wide.parameters(), method.reference.parameters()):
        assert torch.equal(a, b) and a is not b
    scratch = pix2pix_method()
    assert not torch.equal(scratch.wide.model[1].weight, scratch.reference.model[1].weight)


def run(data_root, teacher, out, iters, config, *extra):
    return compress_tiny(data_root, teacher, out, iters, "--config",
                         f"configs/omgd/{config}.yaml", "--set", "ndf=4",
                         "--set", "options.deep_ngf=2", *extra)


@pytest.mark.parametrize("config,norm,extra", [
    ("edges2fashion", "batch", []),
    ("sneaker2boot", "instance", ["--task", "sneaker2boot", "--set", "student.steps=2"])])
def test_tool_runs_and_resumes_exactly(fake_data_root, tmp_path, config, norm, extra):
    torch.manual_seed(0)
    name = "latest_net_G.pth" if config == "edges2fashion" else "latest_net_G_A.pth"
    teacher = tmp_path / name
    save_pix2pix_state(define_G("resnet_6blocks", 1, 1, ngf=8, norm=norm), teacher)
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert run(fake_data_root, teacher, straight, 4, config, *extra) == 0
    run(fake_data_root, teacher, split, 2, config, *extra)
    run(fake_data_root, teacher, split, 4, config, "--resume", *extra)
    a = torch.load(straight / "latest.pt", weights_only=True)
    b = torch.load(split / "latest.pt", weights_only=True)
    for player in ("student", "discriminator"):
        for part in ("model", "aux"):
            for key, value in a["players"][player][part].items():
                assert torch.equal(value, b["players"][player][part][key]), (player, key)
        assert a["players"][player]["optimizer"]["state"].keys() == \
            b["players"][player]["optimizer"]["state"].keys()
        for k, s in a["players"][player]["optimizer"]["state"].items():
            assert torch.equal(s["exp_avg"], b["players"][player]["optimizer"]["state"][k]["exp_avg"])
    assert any(k.startswith("omgd_online.") for k in a["players"]["discriminator"]["model"])
    assert a["method"]["draws"] == b["method"]["draws"]
    for pool in ("fake_a_pool", "fake_b_pool"):  # CycleGAN's image pools
        if "cyclegan" in a["method"]:
            assert torch.equal(a["method"]["cyclegan"][pool]["images"],
                               b["method"]["cyclegan"][pool]["images"])
    metrics = json.loads((straight / "metrics.json").read_text())
    assert metrics["method"] == "omgd" and "psnr_teacher" in metrics["history"][-1]

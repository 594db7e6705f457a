"""Chen et al. 2020 ("Distilling portable GANs", portable_gan): losses by hand, which
player each loss trains, D_T/D_S construction, error lines, and exact resume through
tools/compress_gan.py on tiny teachers."""
import json
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from conftest import compress_tiny

from dfkd.core.config import build_config, read_options
from dfkd.core.errors import ConfigError
from dfkd.gan.setup import GANSetup, TranslationData
from dfkd.generator_distillation.config import CompressConfig
from dfkd.generator_distillation.portable_gan import PortableGAN, looks_untrained
from generators.gan_checkpoint import load_pix2pix_state, save_pix2pix_state
from generators.pix2pix import define_D, define_G

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs" / "portable_gan"
Options = PortableGAN.Options
SETUP = GANSetup(batch_size=2, seed=0, device=torch.device("cpu"))


class Negate(nn.Module):
    """A teacher generator without parameters: G_T(x) = −x."""

    def forward(self, x):
        return -x


def constant_setup(**options):
    """x = 1, real y = 2, G_T(x) = −1, G_S(x) = 0.5, D(image) = LeakyReLU_0.2(image)
    (a 1×1 convolution of weight 1), D_S kept as D_T (``student_d_init: teacher``)."""
    student = nn.Conv2d(1, 1, 1)
    disc = nn.Sequential(nn.Conv2d(1, 1, 1), nn.LeakyReLU(0.2))
    with torch.no_grad():
        student.weight.fill_(0.5), student.bias.zero_()
        disc[0].weight.fill_(1.0), disc[0].bias.zero_()
    data = TranslationData(torch.ones(2, 1, 4, 4), torch.full((2, 1, 4, 4), 2.0), False)
    opts = Options(gan_mode="lsgan", student_d_init="teacher", **options)
    return PortableGAN(Negate(), student, disc, opts, data, SETUP), student, disc


def test_discriminator_loss_by_hand():
    """D(y) = 2, D(G_T(x)) = −0.2, D(G_S(x)) = 0.5: LSGAN real term ½[(2−1)² + 0.5²] = 0.625,
    teacher term ½[(−0.2−1)² + 0.5²] = 0.845, triplet |2 + 0.2| − |2 − 0.5| + α."""
    method, _, _ = constant_setup(real_weight=1, teacher_weight=2, triplet_weight=3,
                                  triplet_margin=1)
    losses = method.adversary_loss(0)
    assert float(losses["real"]) == pytest.approx(0.625)
    assert float(losses["teacher"]) == pytest.approx(0.845)
    assert float(losses["triplet"]) == pytest.approx(1.7)
    assert float(losses["loss"]) == pytest.approx(0.625 + 2 * 0.845 + 3 * 1.7)
    clipped, _, _ = constant_setup(triplet_margin=0)  # 2.2 − 1.5 > 0: still active
    assert float(clipped.adversary_loss(0)["triplet"]) == pytest.approx(0.7)


def test_generator_loss_by_hand():
    """LSGAN (0.5 − 1)² = 0.25; L1 |0.5 + 1| = 1.5; D_T's LeakyReLU maps 0.5 vs −0.2:
    feature L1 0.7, Gram (one channel, constant map c: c²) 0.25 vs 0.04: style 0.21."""
    method, _, _ = constant_setup(gan_weight=1, l1_weight=10, feature_weight=2, style_weight=3)
    losses = method.student_loss(0)
    assert method.perceptual == ["1"]  # every LeakyReLU of D_T
    expected = {"gan": 0.25, "l1": 1.5, "feature": 0.7, "style": 0.21}
    for key, value in expected.items():
        assert float(losses[key]) == pytest.approx(value), key
    assert float(losses["loss"]) == pytest.approx(0.25 + 15 + 1.4 + 0.63)
    squared, _, _ = constant_setup(perceptual_distance="l2")
    losses = squared.student_loss(0)
    assert float(losses["feature"]) == pytest.approx(0.49)
    assert float(losses["style"]) == pytest.approx(0.21 ** 2)


def trained_d(channels, ndf=4, norm="batch"):
    """A PatchGAN whose BatchNorm has seen a batch (a teacher's discriminator)."""
    d = define_D("basic", channels, ndf=ndf, norm=norm)
    d(torch.randn(4, channels, 32, 32))
    return d


def pix2pix_method(disc=None, **options):
    torch.manual_seed(0)
    teacher = define_G("resnet_6blocks", 1, 1, ngf=8).eval()
    student = define_G("resnet_6blocks", 1, 1, ngf=4)
    disc = disc or trained_d(2)
    x, y = torch.rand(6, 1, 32, 32) * 2 - 1, torch.rand(6, 1, 32, 32) * 2 - 1
    method = PortableGAN(teacher, student, disc, Options(**options), TranslationData(x, y, True),
                         SETUP)
    return method, teacher, student, disc


def test_triplet_embedding_is_the_last_hidden_layer_by_default():
    assert pix2pix_method()[0].triplet_layer == "model.10"  # input of the PatchGAN's head
    assert pix2pix_method(triplet_layer="output")[0].triplet_layer == ""
    method = pix2pix_method(triplet_layer="model.7")[0]
    x, y = method.batch(0)
    out, embedding = method.scores(method.condition(x, y))
    assert out.shape[1] == 1 and embedding.shape[1] == 16  # ndf 4 × 4 channels at model.7


def test_each_loss_reaches_its_own_player_only():
    method, teacher, student, disc = pix2pix_method()
    method.student_loss(0)["loss"].backward()
    assert all(p.grad is not None for p in student.parameters())
    assert not any(p.requires_grad for p in method.teacher_d.parameters())
    assert all(p.grad is None for p in [*teacher.parameters(), *method.teacher_d.parameters()])
    student.zero_grad(set_to_none=True), disc.zero_grad(set_to_none=True)
    losses = method.adversary_loss(0)
    assert {"real", "teacher", "triplet"} <= set(losses)
    losses["loss"].backward()
    assert all(p.grad is not None for p in disc.parameters())
    assert all(p.grad is None for p in [*student.parameters(), *method.teacher_d.parameters()])


def test_teacher_d_is_a_frozen_copy_and_student_d_restarts():
    passed = trained_d(2)
    teacher_weights = {k: v.clone() for k, v in passed.state_dict().items()}
    method, _, _, disc = pix2pix_method(passed)
    t_state, s_state = method.teacher_d.state_dict(), disc.state_dict()
    for key, value in teacher_weights.items():
        assert torch.equal(t_state[key], value), key
    assert not torch.equal(s_state["model.0.weight"], t_state["model.0.weight"])
    assert looks_untrained(disc) and not looks_untrained(method.teacher_d)
    assert not method.teacher_d.training
    with torch.no_grad():
        disc.model[0].weight.add_(1.0)
    assert torch.equal(method.teacher_d.state_dict()["model.0.weight"],
                       teacher_weights["model.0.weight"])
    kept, _, _, kept_d = pix2pix_method(student_d_init="teacher")
    assert torch.equal(kept_d.state_dict()["model.0.weight"],
                       kept.teacher_d.state_dict()["model.0.weight"])


def test_reinit_leaves_the_global_random_stream_alone():
    disc = trained_d(2)
    teacher = define_G("resnet_6blocks", 1, 1, ngf=8)
    student, x = define_G("resnet_6blocks", 1, 1, ngf=4), torch.rand(4, 1, 32, 32)
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    PortableGAN(teacher, student, disc, Options(), TranslationData(x, x, True), SETUP)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("options, message", [
    ({"gan_mode": "wgangp"}, "wgangp is not supported"),
    ({"gan_mode": "bce"}, "gan_mode"),
    ({"student_d_init": "pruned"}, "student_d_init must be one of scratch, teacher"),
    ({"perceptual_distance": "l3"}, "perceptual_distance must be one of l1, l2"),
    ({"real_weight": 0, "teacher_weight": 0, "triplet_weight": 0}, "has no loss"),
    ({"perceptual_layers": ["model.99"]}, "perceptual_layers entry 'model.99' is not a module"),
    ({"triplet_layer": "head"}, "triplet_layer 'head' is not a module"),
    ({"teacher_discriminator": "/nowhere/latest_net_D.pth"}, "is not a file"),
])
def test_bad_options_are_one_line(options, message):
    with pytest.raises(ConfigError, match=message) as info:
        pix2pix_method(**options)
    assert "\n" not in str(info.value)


def test_untrained_or_mismatched_teacher_discriminator_is_refused(tmp_path):
    x = torch.rand(4, 1, 32, 32)
    g = define_G("resnet_6blocks", 1, 1, ngf=4)
    with pytest.raises(ConfigError, match="discriminator passed in is untrained"):
        PortableGAN(g, g, define_D("basic", 2, ndf=4), Options(), TranslationData(x, x, True),
                    SETUP)
    path = tmp_path / "latest_net_D.pth"
    save_pix2pix_state(trained_d(1), path)
    with pytest.raises(ConfigError, match="takes 1 channels, this task needs 2"):
        PortableGAN(g, g, define_D("basic", 2, ndf=4), Options(teacher_discriminator=str(path)),
                    TranslationData(x, x, True), SETUP)


def test_every_config_reads():
    for path in sorted(CONFIGS.glob("*.yaml")):
        cfg = build_config(CompressConfig(), [path])
        assert cfg.method == "portable_gan", path
        read_options(Options, cfg.options, cfg.method)
    assert {p.stem for p in CONFIGS.glob("*.yaml")} == {"edges2fashion", "sneaker2boot",
                                                         "aligned", "unaligned"}


def save_teacher(folder, norm="batch", d_channels=2, names=("G", "D")):
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    save_pix2pix_state(define_G("resnet_6blocks", 1, 1, ngf=8, norm=norm),
                       folder / f"latest_net_{names[0]}.pth")
    save_pix2pix_state(trained_d(d_channels, norm=norm), folder / f"latest_net_{names[1]}.pth")
    return folder / f"latest_net_{names[0]}.pth"


def run(config, data_root, teacher, out, iters, *extra):
    return compress_tiny(data_root, teacher, out, iters, "--config", str(CONFIGS / config),
                         *extra)


def same_players(a: Path, b: Path) -> None:
    first = torch.load(a / "latest.pt", weights_only=True)["players"]
    second = torch.load(b / "latest.pt", weights_only=True)["players"]
    for player in ("student", "discriminator"):
        for key, value in first[player]["model"].items():
            assert torch.equal(value, second[player]["model"][key]), (player, key)


def test_pix2pix_run_and_exact_resume(fake_data_root, tmp_path, capsys):
    teacher = save_teacher(tmp_path / "teacher")
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert run("edges2fashion.yaml", fake_data_root, teacher, straight, 4) == 0
    printed = capsys.readouterr().out
    assert "distilled layers: D_T.model.1, D_T.model.4, D_T.model.7, D_T.model.10" in printed
    run("edges2fashion.yaml", fake_data_root, teacher, split, 2)
    run("edges2fashion.yaml", fake_data_root, teacher, split, 4, "--resume")
    same_players(straight, split)
    metrics = json.loads((straight / "metrics.json").read_text())
    assert metrics["method"] == "portable_gan" and "psnr" in metrics["history"][-1]
    assert load_pix2pix_state(straight / "latest_net_G.pth")[1]["ngf"] == 4


def test_cyclegan_narrow_student_d_and_exact_resume(fake_data_root, tmp_path):
    """Unpaired: D_T from options.teacher_discriminator, D_S fresh and narrower (ndf 2)."""
    teacher = save_teacher(tmp_path / "teacher", norm="instance", d_channels=1,
                           names=("G_A", "D_A"))
    extra = ["--task", "cyclegan", "--set", "discriminator_ckpt=", "--set", "ndf=2",
             "--set", f"options.teacher_discriminator={teacher.with_name('latest_net_D_A.pth')}"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    run("sneaker2boot.yaml", fake_data_root, teacher, straight, 4, *extra)
    run("sneaker2boot.yaml", fake_data_root, teacher, split, 2, *extra)
    run("sneaker2boot.yaml", fake_data_root, teacher, split, 4, "--resume", *extra)
    same_players(straight, split)
    d_state = torch.load(straight / "latest.pt", weights_only=True)["players"]["discriminator"]
    assert d_state["model"]["model.0.weight"].shape[0] == 2


def test_tool_errors_are_one_line(fake_data_root, tmp_path):
    teacher = save_teacher(tmp_path / "teacher")
    with pytest.raises(ConfigError, match="method portable_gan: .*triplet_margn"):
        run("edges2fashion.yaml", fake_data_root, teacher, tmp_path / "a", 1,
            "--set", "options.triplet_margn=2")
    with pytest.raises(ConfigError, match="options.triplet_margin' must be >= 0"):
        run("edges2fashion.yaml", fake_data_root, teacher, tmp_path / "b", 1,
            "--set", "options.triplet_margin=-1")
    with pytest.raises(ConfigError, match="discriminator passed in is untrained"):
        run("edges2fashion.yaml", fake_data_root, teacher, tmp_path / "c", 1,
            "--set", "discriminator_ckpt=")

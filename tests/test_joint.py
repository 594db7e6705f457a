"""Joint G+D distillation (issue 7): DCGAN networks and files, the losses by hand, which
player each step moves, and the train_gan / compress_gan command lines on tiny data."""
import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import CheckpointError, ConfigError, DfkdError
from dfkd.engine import AdversarialLoop, Player
from dfkd.engine.config import PlayerConfig
from dfkd.gan.setup import GANSetup
from dfkd.gan_teachers.train import main as train_gan
from dfkd.joint_distillation import METHODS
from dfkd.joint_distillation.joint import (
    JointDistillation,
    JointOptions,
    TeacherGAN,
    discriminator_distillation,
)
from dfkd.joint_distillation.train import main as distill_gan
from dfkd.nets import build_model, save_weights
from generators.dcgan import (
    DCGANDiscriminator,
    DCGANGenerator,
    load_dcgan_discriminator,
    load_dcgan_generator,
    save_dcgan_state,
)
from generators.pix2pix import define_G


def test_dcgan_shapes_keys_and_files(tmp_path):
    g, d = DCGANGenerator(nz=8, ngf=4), DCGANDiscriminator(ndf=4)
    images = g(torch.randn(3, 8))
    assert images.shape == (3, 1, 32, 32) and images.abs().max() <= 1
    assert d(images).shape == (3,)
    assert tuple(g.state_dict()["main.0.weight"].shape) == (8, 16, 4, 4)  # (nz, 4ngf, 4, 4)
    assert tuple(g.state_dict()["main.9.weight"].shape) == (4, 1, 4, 4)  # (ngf, nc, 4, 4)
    save_dcgan_state(g, tmp_path / "G.pth")
    save_dcgan_state(d, tmp_path / "D.pth")
    g2, info = load_dcgan_generator(tmp_path / "G.pth")
    assert info == {"nz": 8, "ngf": 4, "nc": 1}
    z = torch.randn(2, 8)
    assert torch.equal(g.eval()(z), g2(z))
    assert load_dcgan_discriminator(tmp_path / "D.pth")[1] == {"ndf": 4, "nc": 1}
    torch.save(define_G("resnet_6blocks", 1, 1, ngf=4).state_dict(), tmp_path / "pix.pth")
    with pytest.raises(CheckpointError, match="is not a DCGAN generator"):
        load_dcgan_generator(tmp_path / "pix.pth")
    with pytest.raises(CheckpointError, match="is not a DCGAN discriminator"):
        load_dcgan_discriminator(tmp_path / "G.pth")
    with pytest.raises(ValueError, match="32×32"):
        d(torch.zeros(1, 1, 28, 28))


class Constant(nn.Module):
    """A 'discriminator' that outputs a learnable constant per image."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.tensor(value))

    def forward(self, x):
        return self.value.expand(len(x))


def test_discriminator_distillation_by_hand():
    real, fake = torch.zeros(4, 1, 2, 2), torch.zeros(3, 1, 2, 2)
    # |0.5 − 2| on the real batch + |0.5 − 2| on the fake batch = 3
    loss = discriminator_distillation(Constant(0.5), Constant(2.0), [real, fake])
    assert float(loss) == pytest.approx(3.0)


def make_method(method="generic_joint", **weights):
    torch.manual_seed(0)
    teacher_g, student_g = DCGANGenerator(nz=4, ngf=4), DCGANGenerator(nz=4, ngf=2)
    teacher_d, student_d = DCGANDiscriminator(ndf=4), DCGANDiscriminator(ndf=2)
    images = torch.rand(12, 1, 32, 32) * 2 - 1
    cls = METHODS.get(method)
    return cls(TeacherGAN(teacher_g, teacher_d), student_g,
               student_d if cls.has_adversary else None, JointOptions(**weights), images,
               GANSetup(4, 0, torch.device("cpu")))


def test_student_losses_by_hand():
    m = make_method(pixel_weight=3.0, gan_weight=2.0)
    torch.manual_seed(5)
    losses = m.student_loss(0)
    torch.manual_seed(5)
    z = torch.randn(4, 4)
    fake, target = m.student_g(z), m.teacher_g(z)
    adv = F.softplus(-m.student_d(fake)).mean()  # vanilla non-saturating: −log σ(D(G(z)))
    assert float(losses["pixel"]) == pytest.approx(float(F.l1_loss(fake, target)), rel=1e-5)
    assert float(losses["gan"]) == pytest.approx(float(adv), rel=1e-5)
    assert float(losses["loss"]) == pytest.approx(float(2 * adv + 3 * F.l1_loss(fake, target)), rel=1e-5)
    a = make_method("aguinaldo", pixel_weight=3.0)
    torch.manual_seed(5)
    losses = a.student_loss(0)
    torch.manual_seed(5)
    z = torch.randn(4, 4)
    assert set(losses) == {"loss", "pixel"}  # no discriminator
    assert float(losses["loss"]) == pytest.approx(
        3 * float(F.mse_loss(a.student_g(z), a.teacher_g(z))), rel=1e-5)


def test_discriminator_loss_adds_distillation_term():
    m = make_method(d_distill_weight=0.5)
    torch.manual_seed(1)
    losses = m.adversary_loss(0)
    assert {"real", "fake", "d_distill"} <= set(losses)
    expected = 0.5 * (losses["real"] + losses["fake"]) + 0.5 * losses["d_distill"]
    assert float(losses["loss"]) == pytest.approx(float(expected), rel=1e-6)
    assert "d_distill" not in make_method(d_distill_weight=0.0).adversary_loss(0)


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def moved(nets, before):
    return {name for name, net in nets.items()
            if any(not torch.equal(p, before[name][k]) for k, p in net.named_parameters())}


def test_each_phase_moves_only_its_player(tmp_path):
    m = make_method()
    student = Player.from_config("student", m.student_g, PlayerConfig(), 1)
    adversary = Player.from_config("discriminator", m.student_d, PlayerConfig(), 1)
    loop = AdversarialLoop(m, student, adversary, 1, tmp_path)
    nets = {"teacher_g": m.teacher_g, "teacher_d": m.teacher_d, "student_g": m.student_g,
            "student_d": m.student_d}
    for player, loss, expected in ((adversary, m.adversary_loss, {"student_d"}),
                                   (student, m.student_loss, {"student_g"})):
        before = {k: snapshot(v) for k, v in nets.items()}
        loop._phase(player, loss, 0)
        assert moved(nets, before) == expected


def test_unknown_method_and_missing_teacher_discriminator():
    with pytest.raises(DfkdError, match="unknown joint-distillation method 'gan'"):
        make_method("gan")
    assert METHODS.names() == ["aguinaldo", "generic_joint", "ppcd"]
    g, d = DCGANGenerator(nz=4, ngf=2), DCGANDiscriminator(ndf=2)
    with pytest.raises(ConfigError, match="needs the teacher's discriminator"):
        JointDistillation(TeacherGAN(g), g, d, JointOptions(), torch.zeros(8, 1, 32, 32),
                          GANSetup(4, 0, torch.device("cpu")))
    with pytest.raises(ConfigError, match="trains a student discriminator"):
        JointDistillation(TeacherGAN(g, d), g, None, JointOptions(), torch.zeros(8, 1, 32, 32),
                          GANSetup(4, 0, torch.device("cpu")))


# -- the command lines ---------------------------------------------------------------------
TINY = ["--set", "nz=8", "--set", "ngf=4", "--set", "ndf=4", "--set", "train.batch_size=8",
        "--set", "train.eval_every=2", "--set", "train.eval_pairs=16", "--set", "train.log_every=1",
        "--set", "train.image_every=2"]


@pytest.fixture(scope="module")
def fid_flags(tmp_path_factory):
    classifier = tmp_path_factory.mktemp("fid") / "lenet5.pt"
    save_weights(build_model("lenet5", in_channels=1, num_classes=10), classifier,
                 {"arch": "lenet5", "dataset": "fashion_mnist", "test_acc": 10.0})
    return ["--set", "fid.classifier=lenet5", "--set", f"fid.classifier_ckpt={classifier}"]


@pytest.fixture(scope="module")
def dcgan_teacher(fake_data_root, tmp_path_factory, fid_flags):
    out = tmp_path_factory.mktemp("dcgan") / "teacher"
    assert train_gan(["--task", "dcgan", "--data-root", str(fake_data_root), "--out", str(out),
                      "--iters", "4", *TINY, *fid_flags]) == 0
    return out


def test_dcgan_teacher_run(dcgan_teacher):
    metrics = json.loads((dcgan_teacher / "metrics.json").read_text())
    assert metrics["method"] == "dcgan" and metrics["task"] == "fashion"
    assert [h["iteration"] for h in metrics["history"]] == [2, 4]
    assert metrics["best_fid"] == min(h["fid"] for h in metrics["history"])
    assert load_dcgan_generator(dcgan_teacher / "latest_net_G.pth")[1] == {"nz": 8, "ngf": 4, "nc": 1}
    assert load_dcgan_discriminator(dcgan_teacher / "latest_net_D.pth")[1]["ndf"] == 4


def distil(data_root, teacher, out, iters, fid_flags, *extra):
    return distill_gan(["--task", "dcgan", "--teacher-ckpt", str(teacher / "latest_net_G.pth"),
                         "--data-root", str(data_root), "--out", str(out), "--iters", str(iters),
                         "--student-ngf", "2", "--set", "student_ndf=2", *TINY[6:], *fid_flags,
                         *extra])


def test_joint_and_aguinaldo_runs(fake_data_root, dcgan_teacher, tmp_path, fid_flags, capsys):
    assert distil(fake_data_root, dcgan_teacher, tmp_path / "joint", 2, fid_flags) == 0
    text = capsys.readouterr().out
    assert "method generic_joint" in text and "teacher discriminator from" in text
    metrics = json.loads((tmp_path / "joint" / "metrics.json").read_text())
    assert metrics["student_macs"] < metrics["teacher_macs"] / 3
    assert {"fid", "l1_teacher", "psnr_teacher"} <= set(metrics)
    assert (tmp_path / "joint" / "latest_net_D.pth").exists()
    assert distil(fake_data_root, dcgan_teacher, tmp_path / "agu", 2, fid_flags,
                  "--set", "method=aguinaldo") == 0
    state = torch.load(tmp_path / "agu" / "latest.pt", weights_only=True)
    assert set(state["players"]) == {"student"}  # no discriminator
    assert not (tmp_path / "agu" / "latest_net_D.pth").exists()


def test_joint_resume_is_exact(fake_data_root, dcgan_teacher, tmp_path, fid_flags):
    straight, split = tmp_path / "straight", tmp_path / "split"
    distil(fake_data_root, dcgan_teacher, straight, 4, fid_flags)
    distil(fake_data_root, dcgan_teacher, split, 2, fid_flags)
    distil(fake_data_root, dcgan_teacher, split, 4, fid_flags, "--resume")
    a = torch.load(straight / "latest.pt", weights_only=True)["players"]
    b = torch.load(split / "latest.pt", weights_only=True)["players"]
    for player in ("student", "discriminator"):
        for key, value in a[player]["model"].items():
            assert torch.equal(value, b[player]["model"][key]), (player, key)


def test_joint_bad_inputs(fake_data_root, dcgan_teacher, tmp_path, fid_flags):
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    (lonely / "latest_net_G.pth").write_bytes((dcgan_teacher / "latest_net_G.pth").read_bytes())
    with pytest.raises(CheckpointError, match="no teacher discriminator beside"):
        distil(fake_data_root, lonely, tmp_path / "a", 1, fid_flags)
    assert distil(fake_data_root, lonely, tmp_path / "b", 1, fid_flags,
                  "--set", "options.d_distill_weight=0") == 0  # D_T not needed then
    with pytest.raises(ConfigError, match="--netG names a pix2pix/CycleGAN"):
        distil(fake_data_root, dcgan_teacher, tmp_path / "c", 1, fid_flags, "--netG", "unet_256")
    with pytest.raises(CheckpointError, match="is not a DCGAN generator"):
        distil(fake_data_root, dcgan_teacher, tmp_path / "d", 1, fid_flags,
               "--teacher-ckpt", str(dcgan_teacher / "latest_net_D.pth"))


@pytest.mark.parametrize("mode", ["lsgan", "hinge", "wgangp"])
def test_every_gan_mode_distils_and_trains_a_dcgan(mode, fake_data_root, dcgan_teacher, tmp_path,
                                                   fid_flags):
    assert distil(fake_data_root, dcgan_teacher, tmp_path / "joint", 1, fid_flags,
                  "--set", f"options.gan_mode={mode}") == 0
    assert train_gan(["--task", "dcgan", "--data-root", str(fake_data_root), "--out",
                      str(tmp_path / "dcgan"), "--iters", "1", *TINY, *fid_flags,
                      "--set", f"options.gan_mode={mode}"]) == 0
    metrics = json.loads((tmp_path / "dcgan" / "metrics.json").read_text())
    assert metrics["config"]["options"]["gan_mode"] == mode


def test_compress_gan_tool_hands_a_dcgan_task_to_joint_distillation(tmp_path):
    """The README's ``compress_gan.py --task dcgan`` still reaches joint G+D distillation,
    and each family's entry names the other tool for the other kind of task."""
    import subprocess
    import sys

    from conftest import ROOT

    from dfkd.generator_distillation.train import main as compress_gan

    missing = str(tmp_path / "none" / "latest_net_G.pth")
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "compress_gan.py"), "--task=dcgan",
                          "--teacher-ckpt", missing, "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert "python tools/train_gan.py --task dcgan" in run.stderr  # the joint entry's message
    with pytest.raises(ConfigError, match="tools/distill_gan.py"):
        compress_gan(["--task", "dcgan", "--teacher-ckpt", missing])
    with pytest.raises(ConfigError, match="tools/compress_gan.py"):
        distill_gan(["--task", "edges2fashion", "--teacher-ckpt", missing])


def test_renamed_joint_keys_name_their_new_place(fake_data_root, dcgan_teacher, tmp_path,
                                                 fid_flags):
    with pytest.raises(ConfigError, match="'pixel_weight' was renamed: use 'options.pixel_weight'"):
        distil(fake_data_root, dcgan_teacher, tmp_path / "a", 1, fid_flags,
               "--set", "pixel_weight=10")
    with pytest.raises(ConfigError, match="method aguinaldo: unknown config key 'options.alpha'"):
        distil(fake_data_root, dcgan_teacher, tmp_path / "b", 1, fid_flags,
               "--set", "method=aguinaldo", "--set", "options.alpha=1")

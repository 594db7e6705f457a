"""GAN Compression's student init (L1 channel selection from the teacher) and the official
distillation settings: generators/channel_selection.py, the method's options, the configs."""
import dataclasses
import json

import pytest
import torch
import torch.nn as nn

import dfkd
from dfkd.cli import with_method_options
from dfkd.core.config import CONFIG_DIR, build_config
from dfkd.core.errors import ConfigError
from dfkd.gan.setup import GANSetup, TranslationData
from dfkd.generator_distillation.config import CompressConfig
from dfkd.generator_distillation.gan_compression import GANCompression
from dfkd.generator_distillation.registry import METHODS
from dfkd.generator_distillation.train import main as compress_gan
from generators.channel_selection import init_from_teacher, select_channels
from generators.gan_checkpoint import load_pix2pix_state, save_pix2pix_state
from generators.pix2pix import define_D, define_G

Options = GANCompression.Options
SETUP = GANSetup(batch_size=3, seed=0, device=torch.device("cpu"))
TINY = ["--set", "train.batch_size=4", "--set", "train.eval_every=2", "--set", "train.eval_pairs=8",
        "--set", "train.log_every=1", "--set", "train.image_every=0", "--set", "fid.classifier=",
        "--set", "ndf=4", "--set", "student.schedule.name=constant",
        "--set", "discriminator.schedule.name=constant"]


def random_teacher(ngf: int = 8, norm: str = "batch", dropout: bool = False,
                   net: str = "resnet_6blocks") -> nn.Module:
    """A teacher with random weights and (BatchNorm) random affine parameters and statistics,
    so that copying norm layers is tested too."""
    torch.manual_seed(1)
    teacher = define_G(net, 1, 1, ngf=ngf, norm=norm, use_dropout=dropout)
    with torch.no_grad():
        for m in teacher.modules():
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
                m.weight.normal_(0, 0.3)
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5), m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0)
    return teacher.eval()


def top(norms: torch.Tensor, k: int) -> torch.Tensor:
    return torch.topk(norms, k).indices


# -- the pure function ---------------------------------------------------------------------

def test_kept_channels_are_the_top_k_by_l1():
    """Each layer keeps the k output filters of largest L1 over the inputs kept before it
    (resnet_6blocks: stem 1, downs 4/7, blocks 10-15, ups 16/19, head 23)."""
    teacher = random_teacher()
    student = define_G("resnet_6blocks", 1, 1, ngf=4)
    before = {k: v.clone() for k, v in student.state_dict().items()}
    sel = select_channels(teacher, student)
    t, s = teacher.state_dict(), sel.state
    assert all(torch.equal(before[k], v) for k, v in student.state_dict().items())  # pure

    w = t["model.1.weight"]  # the first convolution keeps every input channel
    k1 = top(w.abs().sum((1, 2, 3)), 4)
    assert torch.equal(sel.kept["model.1"], k1) and torch.equal(s["model.1.weight"], w[k1])
    for key in ("weight", "bias", "running_mean", "running_var"):  # its BatchNorm follows
        assert torch.equal(s[f"model.2.{key}"], t[f"model.2.{key}"][k1])
    w = t["model.4.weight"][:, k1]  # L1 over the kept inputs only (the official order)
    k4 = top(w.abs().sum((1, 2, 3)), 8)
    assert torch.equal(sel.kept["model.4"], k4) and torch.equal(s["model.4.weight"], w[k4])
    stream = top(t["model.7.weight"][:, k4].abs().sum((1, 2, 3)), 16)
    assert torch.equal(sel.kept["model.7"], stream)
    for b in range(10, 16):  # every block: conv 1 by L1, conv 2 back onto the stream
        w1 = t[f"model.{b}.conv_block.1.weight"][:, stream]
        mid = top(w1.abs().sum((1, 2, 3)), 16)
        assert torch.equal(s[f"model.{b}.conv_block.1.weight"], w1[mid])
        assert torch.equal(sel.kept[f"model.{b}.conv_block.5"], stream)
        assert torch.equal(s[f"model.{b}.conv_block.5.weight"],
                           t[f"model.{b}.conv_block.5.weight"][stream][:, mid])
        assert torch.equal(s[f"model.{b}.conv_block.6.bias"],
                           t[f"model.{b}.conv_block.6.bias"][stream])
    w = t["model.16.weight"][stream]  # ConvTranspose2d: in × out × kh × kw
    up = top(w.abs().sum((0, 2, 3)), 8)
    assert torch.equal(sel.kept["model.16"], up) and torch.equal(s["model.16.weight"], w[:, up])
    up2 = top(t["model.19.weight"][up].abs().sum((0, 2, 3)), 4)
    assert torch.equal(s["model.23.weight"], t["model.23.weight"][:, up2])  # the last conv
    assert torch.equal(s["model.23.bias"], t["model.23.bias"])  # keeps every output
    assert set(s) == set(student.state_dict())


@pytest.mark.parametrize("norm,dropout", [("batch", False), ("instance", True)])
def test_same_width_is_an_exact_copy(norm, dropout):
    """student_ngf == the teacher's: a channel permutation of the teacher, same outputs."""
    teacher = random_teacher(norm=norm, dropout=dropout)
    student = define_G("resnet_6blocks", 1, 1, ngf=8, norm=norm, use_dropout=dropout)
    sel = init_from_teacher(teacher, student)
    for name, kept in sel.kept.items():
        assert sorted(kept.tolist()) == list(range(len(kept))), name
    x = torch.rand(3, 1, 32, 32, dtype=torch.float64) * 2 - 1
    with torch.no_grad():  # in float64, so that summation order (permuted channels) is moot
        torch.testing.assert_close(student.double().eval()(x), teacher.double()(x), rtol=0,
                                   atol=1e-12)


def embed(small: nn.Module, big: nn.Module, blocks: int = 6) -> None:
    """Write ``small`` into ``big`` at random channel subsets, every other channel zero:
    ``big`` then computes exactly what ``small`` does."""
    gen = torch.Generator().manual_seed(3)
    pick = lambda n, k: torch.randperm(n, generator=gen)[:k]  # noqa: E731
    sg, bg = small.ngf, big.ngf
    every = lambda n: torch.arange(n)  # noqa: E731
    a, b, r = pick(bg, sg), pick(2 * bg, 2 * sg), pick(4 * bg, 4 * sg)
    u1, u2 = pick(2 * bg, 2 * sg), pick(bg, sg)
    layers = {1: (every(1), a), 4: (a, b), 7: (b, r), 16: (r, u1), 19: (u1, u2), 23: (u2, every(1))}
    norms = {2: a, 5: b, 8: r, 17: u1, 20: u2}
    for i in range(10, 10 + blocks):
        mid = pick(4 * bg, 4 * sg)
        layers[f"{i}.conv_block.1"], layers[f"{i}.conv_block.5"] = (r, mid), (mid, r)
        norms[f"{i}.conv_block.2"], norms[f"{i}.conv_block.6"] = mid, r
    s, state = small.state_dict(), big.state_dict()
    for key, value in state.items():
        if value.dim() == 1 and key.endswith(("weight", "running_var")):
            value.fill_(1.0)  # BN scales and variances: 1
        elif value.dim():
            value.zero_()  # convolutions, biases, BN shifts and means: 0
    for name, (ins, outs) in layers.items():
        w = state[f"model.{name}.weight"]
        transposed = name in (16, 19)
        for o_pos, o in enumerate(outs):
            for i_pos, i in enumerate(ins):
                src = s[f"model.{name}.weight"]
                if transposed:
                    w[i, o] = src[i_pos, o_pos]
                else:
                    w[o, i] = src[o_pos, i_pos]
        if f"model.{name}.bias" in s:
            state[f"model.{name}.bias"][outs] = s[f"model.{name}.bias"]
    for name, channels in norms.items():
        for key in ("weight", "bias", "running_mean", "running_var"):
            if f"model.{name}.{key}" in s:
                state[f"model.{name}.{key}"][channels] = s[f"model.{name}.{key}"]
    big.load_state_dict(state)


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_teacher_whose_dropped_channels_are_zero_gives_the_same_outputs(norm):
    """A teacher that is a narrow network padded with zero channels: L1 selection finds the
    nonzero channels, and the pruned student computes what the teacher computes."""
    small = random_teacher(ngf=4, norm=norm)
    teacher = define_G("resnet_6blocks", 1, 1, ngf=8, norm=norm)
    embed(small, teacher)
    teacher.eval()
    student = define_G("resnet_6blocks", 1, 1, ngf=4, norm=norm)
    init_from_teacher(teacher, student)
    x = torch.rand(3, 1, 32, 32, dtype=torch.float64) * 2 - 1
    with torch.no_grad():  # float64: zero channels change the summation order, not the sum
        want = small.double()(x)
        torch.testing.assert_close(teacher.double()(x), want, rtol=0, atol=1e-12)
        torch.testing.assert_close(student.double().eval()(x), want, rtol=0, atol=1e-12)


def test_unsupported_generators_are_one_clear_error():
    unet_t, unet_s = define_G("unet_128", 1, 1, ngf=8), define_G("unet_128", 1, 1, ngf=4)
    with pytest.raises(ConfigError, match="UnetGenerator: set options.student_init=scratch"):
        select_channels(unet_t, unet_s)
    teacher = random_teacher(ngf=4)
    with pytest.raises(ConfigError, match="student_ngf 8 is wider than the teacher's ngf 4"):
        select_channels(teacher, define_G("resnet_6blocks", 1, 1, ngf=8))
    with pytest.raises(ConfigError, match="not the teacher's architecture"):
        select_channels(teacher, define_G("resnet_9blocks", 1, 1, ngf=2))
    with pytest.raises(ConfigError, match="not the teacher's architecture"):
        select_channels(teacher, define_G("resnet_6blocks", 1, 1, ngf=2, norm="instance"))


# -- the method's options and configs ------------------------------------------------------

def test_options_default_to_the_official_distiller():
    options = Options()
    assert (options.gan_mode, options.gan_weight, options.recon_weight, options.distill_weight,
            options.recon_target, options.student_init) == ("hinge", 1.0, 100.0, 1.0, "auto",
                                                           "teacher")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.gan_mode = "lsgan"


def test_configs_carry_the_official_recipes():
    def read(task):
        cfg = build_config(CompressConfig(), [CONFIG_DIR / "compress" / f"{task}.yaml"])
        return with_method_options(cfg, METHODS)

    p2p, cyc = read("edges2fashion"), read("sneaker2boot")
    assert (p2p.options.gan_mode, p2p.options.recon_weight, p2p.options.distill_weight,
            p2p.options.recon_target, p2p.options.student_init) == ("hinge", 100.0, 1.0,
                                                                   "target", "teacher")
    assert (cyc.options.gan_mode, cyc.options.recon_weight, cyc.options.distill_weight,
            cyc.options.recon_target, cyc.options.student_init) == ("lsgan", 10.0, 0.01,
                                                                   "teacher", "teacher")
    assert p2p.discriminator_ckpt == cyc.discriminator_ckpt == "auto"


def test_recon_target_and_student_init_choices():
    torch.manual_seed(0)
    teacher = define_G("resnet_6blocks", 1, 1, ngf=8).eval()
    student = define_G("resnet_6blocks", 1, 1, ngf=4)
    x, y = torch.rand(6, 1, 32, 32) * 2 - 1, torch.rand(6, 1, 32, 32) * 2 - 1
    method = GANCompression(teacher, student, define_D("basic", 2, ndf=4),
                            Options(recon_target="teacher", distill_weight=0),
                            TranslationData(x, y, True), SETUP)
    idx = method.order.indices(0)
    with torch.no_grad():
        recon = float(nn.functional.l1_loss(student(x[idx]), teacher(x[idx])))
    assert float(method.student_loss(0)["recon"]) == pytest.approx(recon, rel=1e-4)
    with pytest.raises(ConfigError, match="options.recon_target=target needs paired data"):
        GANCompression(teacher, student, define_D("basic", 1, ndf=4),
                       Options(recon_target="target"), TranslationData(x, y, False), SETUP)
    with pytest.raises(ConfigError, match="options.recon_target must be one of"):
        GANCompression(teacher, student, define_D("basic", 2, ndf=4),
                       Options(recon_target="real"), TranslationData(x, y, True), SETUP)
    with pytest.raises(ConfigError, match="options.student_init must be one of"):
        GANCompression.init_student(teacher, student, Options(student_init="random"))
    before = {k: v.clone() for k, v in student.state_dict().items()}
    GANCompression.init_student(teacher, student, Options(student_init="scratch"))
    assert all(torch.equal(before[k], v) for k, v in student.state_dict().items())


# -- the run -------------------------------------------------------------------------------

def test_run_starts_from_the_pruned_teacher_once_and_not_on_resume(fake_data_root, tmp_path,
                                                                   monkeypatch, capsys):
    folder = tmp_path / "teacher"
    folder.mkdir()
    torch.manual_seed(0)
    save_pix2pix_state(define_G("resnet_6blocks", 1, 1, ngf=8), folder / "latest_net_G.pth")
    save_pix2pix_state(define_D("basic", 2, ndf=4), folder / "latest_net_D.pth")
    started = []
    original = GANCompression.init_student

    def spy(teacher, student, options):
        note = original(teacher, student, options)
        started.append({k: v.clone() for k, v in student.state_dict().items()})
        return note

    monkeypatch.setattr(GANCompression, "init_student", staticmethod(spy))
    out = tmp_path / "run"
    args = ["--teacher-ckpt", str(folder / "latest_net_G.pth"), "--data-root",
            str(fake_data_root), "--out", str(out), "--student-ngf", "4", *TINY]
    assert compress_gan([*args, "--iters", "2"]) == 0
    assert "pruned from the teacher" in capsys.readouterr().out
    teacher, _ = load_pix2pix_state(folder / "latest_net_G.pth")
    want = select_channels(teacher, define_G("resnet_6blocks", 1, 1, ngf=4)).state
    assert len(started) == 1 and all(torch.equal(started[0][k], v) for k, v in want.items())
    assert compress_gan([*args, "--iters", "4", "--resume"]) == 0
    assert len(started) == 1  # not again on --resume
    assert "from the checkpoint (--resume)" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["student_init"] == "teacher"
    assert metrics["config"]["options"]["gan_mode"] == "hinge"
    assert metrics["discriminator"].endswith("latest_net_D.pth")


def test_api_restores_the_discriminator_beside_a_teacher_file(tmp_path):
    folder = tmp_path / "teacher"
    folder.mkdir()
    torch.manual_seed(0)
    save_pix2pix_state(define_G("resnet_6blocks", 1, 1, ngf=8), folder / "latest_net_G.pth")
    save_pix2pix_state(define_D("basic", 2, ndf=4), folder / "latest_net_D.pth")
    gen = torch.Generator().manual_seed(2)
    x, y = (torch.rand(8, 1, 32, 32, generator=gen) * 2 - 1 for _ in range(2))
    config = {"train": {"batch_size": 4, "eval_every": 2, "image_every": 0, "log_every": 2,
                        "eval_pairs": 4}}
    dfkd.generator_distillation.compress(folder / "latest_net_G.pth", student_ngf=4, inputs=x,
                                         targets=y, iters=1, out=tmp_path / "run", config=config)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["discriminator"] == f"from {folder / 'latest_net_D.pth'}"
    assert metrics["student_init"] == "teacher"

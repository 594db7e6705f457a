"""ACKD (Gao & Long, ICCV-W 2023; reconstructed): the accumulated-layer targets and loss by
hand, which player each loss moves, bad options, and tools/compress_gan.py with exact
--resume."""
import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import compress_tiny, save_teacher

from dfkd.core.errors import ConfigError, DfkdError
from dfkd.gan.setup import GANSetup, TranslationData
from dfkd.generator_distillation.ackd import ACKD
from dfkd.generator_distillation.ackd_losses import (
    Accumulation,
    FixedProjection,
    accumulated_targets,
    ackd_loss,
    resize_map,
    teacher_projections,
)
from dfkd.generator_distillation.gan_compression import GANCompression, feature_distillation
from generators.pix2pix import define_D, define_G, distill_layers

SETUP = GANSetup(batch_size=3, seed=0, device=torch.device("cpu"))
LAYERS = distill_layers("resnet_6blocks")  # model.9/11/13/15
NONE = nn.ModuleDict()


def identity_maps(n: int, channels: int) -> nn.ModuleList:
    maps = nn.ModuleList(nn.Conv2d(channels, channels, 1) for _ in range(n))
    for m in maps:
        nn.init.dirac_(m.weight), nn.init.zeros_(m.bias)
    return maps


def constant_maps(*values, shape=(2, 3, 2, 2)):
    return [torch.full(shape, float(v)) for v in values]


def test_accumulated_targets_by_hand():
    """Teacher maps 1, 4, 7: uniform gives 1, (1+4)/2, (1+4+7)/3; same_depth gives them
    back; learned logits (0, ln 3)/κ on layer 2 give weights ¼, ¾."""
    t = constant_maps(1, 4, 7)
    uniform = accumulated_targets(t, Accumulation(3, "uniform"), NONE)
    assert [float(m[0, 0, 0, 0]) for m in uniform] == pytest.approx([1.0, 2.5, 4.0])
    same = accumulated_targets(t, Accumulation(3, "same_depth"), NONE)
    assert all(torch.equal(a, b) for a, b in zip(same, t))
    learned = Accumulation(3, "learned", logit_scale=2.0)
    assert float(accumulated_targets(t, learned, NONE)[2][0, 0, 0, 0]) == pytest.approx(4.0)
    with torch.no_grad():
        learned.logits[1].copy_(torch.tensor([0.0, torch.log(torch.tensor(3.0)) / 2]))
    assert learned.weights(1).tolist() == pytest.approx([0.25, 0.75])
    assert float(accumulated_targets(t, learned, NONE)[1][0, 0, 0, 0]) == pytest.approx(
        0.25 * 1 + 0.75 * 4)
    alpha = learned.matrix()
    assert alpha.shape == (3, 3) and torch.equal(alpha.triu(1), torch.zeros(3, 3))
    assert alpha.sum(1).tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_ackd_loss_by_hand():
    """Identity 1×1 maps, student maps 0, 0, 0 and uniform targets 1, 2.5, 4: the loss is
    1 + 6.25 + 16; same_depth equals GAN Compression's Eq. 3 on the same maps."""
    s, t = constant_maps(0, 0, 0), constant_maps(1, 4, 7)
    maps = identity_maps(3, 3)
    assert float(ackd_loss(s, t, maps, Accumulation(3, "uniform"), NONE)) == pytest.approx(23.25)
    s = [torch.randn(2, 3, 2, 2) for _ in range(3)]
    same = ackd_loss(s, t, maps, Accumulation(3, "same_depth"), NONE)
    assert torch.equal(same, feature_distillation(s, t, maps))
    with pytest.raises(ValueError, match="one student map, teacher map, mapping"):
        ackd_loss(s, t[:2], maps, Accumulation(3), NONE)


def test_maps_of_other_shapes_are_resized_and_projected():
    """A 4×4 map of 2 channels enters a 2×2, 3-channel layer average-pooled and through a
    fixed semi-orthogonal 1×1 projection (a buffer, never a parameter)."""
    assert torch.equal(resize_map(torch.arange(16.0).view(1, 1, 4, 4), (2, 2)),
                       torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    assert resize_map(torch.ones(1, 1, 2, 2), (4, 4)).shape == (1, 1, 4, 4)
    torch.manual_seed(0)
    proj = FixedProjection(2, 3)
    assert not list(proj.parameters()) and "weight" in proj.state_dict()
    w = proj.weight[:, :, 0, 0]
    assert torch.allclose(w.T @ w, torch.eye(2), atol=1e-6)  # columns orthonormal
    early, late = torch.randn(1, 2, 4, 4), torch.randn(1, 3, 2, 2)
    targets = accumulated_targets([early, late], Accumulation(2, "uniform"),
                                  nn.ModuleDict({"1_0": proj}))
    expected = 0.5 * F.conv2d(F.avg_pool2d(early, 2), proj.weight) + 0.5 * late
    assert torch.allclose(targets[1], expected, atol=1e-6)
    # a U-Net-like teacher: layers of different widths get projections, in forward order only
    net = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.ReLU(), nn.Conv2d(4, 8, 3, 2, 1), nn.ReLU())
    projections = teacher_projections(net, ["1", "3"], torch.zeros(2, 1, 8, 8))
    assert list(projections) == ["1_0"] and projections["1_0"].weight.shape == (8, 4, 1, 1)
    with pytest.raises(ConfigError, match="must be in forward order.*reaches them as 1, 3, "
                                          "not 3, 1"):
        teacher_projections(net, ["3", "1"], torch.zeros(2, 1, 8, 8))


def make(paired=True, cls=ACKD, **options):
    torch.manual_seed(0)
    teacher = define_G("resnet_6blocks", 1, 1, ngf=8).eval()
    student = define_G("resnet_6blocks", 1, 1, ngf=4)
    disc = define_D("basic", 2 if paired else 1, ndf=4)
    x, y = torch.rand(6, 1, 32, 32) * 2 - 1, torch.rand(6, 1, 32, 32) * 2 - 1
    opts = cls.Options(**{"distill_layers": LAYERS, "student_init": "scratch", **options})
    return cls(teacher, student, disc, opts, TranslationData(x, y, paired), SETUP), x, y


def test_student_loss_terms_by_hand():
    """hinge GAN on D(x, G_S(x)), L1 to the target, the ACKD term on uniform targets of the
    teacher's four maps; the total is the weighted sum."""
    method, x, y = make(gan_weight=2.0, recon_weight=3.0, distill_weight=5.0,
                        accumulation="uniform")
    losses = method.student_loss(0)
    idx = method.order.indices(0)
    xb, yb = x[idx], y[idx]
    student, teacher = method.student, method.teacher
    maps = {}
    hooks = [m.register_forward_hook(lambda mod, a, o, key=(who, n): maps.__setitem__(key, o))
             for who, net in (("s", student), ("t", teacher))
             for n, m in net.named_modules() if n in LAYERS]
    with torch.no_grad():
        fake, _ = student(xb), teacher(xb)
        logits = method.discriminator(torch.cat([xb, fake], 1))
    for h in hooks:
        h.remove()
    t = [maps[("t", n)] for n in LAYERS]
    distill = sum(F.mse_loss(f(maps[("s", n)]), sum(t[:k + 1]) / (k + 1))
                  for k, (n, f) in enumerate(zip(LAYERS, method.mappings)))
    assert float(losses["gan"]) == pytest.approx(float(-logits.mean()), rel=1e-5)
    assert float(losses["recon"]) == pytest.approx(float(F.l1_loss(fake, yb)), rel=1e-5)
    assert float(losses["distill"]) == pytest.approx(float(distill), rel=1e-5)
    total = 2 * losses["gan"] + 3 * losses["recon"] + 5 * losses["distill"]
    assert float(losses["loss"]) == pytest.approx(float(total), rel=1e-5)
    assert float(losses["same_depth_share"]) == pytest.approx((1 / 2 + 1 / 3 + 1 / 4) / 3)


def test_same_depth_is_gan_compression():
    ackd, _, _ = make(accumulation="same_depth")
    gc, _, _ = make(cls=GANCompression)
    a, b = ackd.student_loss(0), gc.student_loss(0)
    for key in ("gan", "recon", "distill", "loss"):
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("accumulation", ["learned", "uniform"])
def test_each_loss_moves_only_its_player(accumulation):
    method, _, _ = make(accumulation=accumulation)
    d = method.discriminator
    d.requires_grad_(False)  # the loop freezes the other players while one steps
    method.student_loss(0)["loss"].backward()
    assert all(p.grad is not None for p in method.student.parameters())
    assert all(p.grad is not None for p in method.mappings.parameters())
    logits = list(method.accumulation.parameters())
    assert len(logits) == (4 if accumulation == "learned" else 0)
    # the first layer's single weight is fixed at 1 (softmax of one logit): zero gradient
    assert all(p.grad is not None for p in logits)
    if logits:
        assert [bool(p.grad.abs().sum() > 0) for p in logits] == [False, True, True, True]
    assert all(p.grad is None for p in [*method.teacher.parameters(), *d.parameters()])
    aux = method.parts()["student"]
    assert {n.split(".")[0] for n, _ in aux.named_parameters()} <= {"mappings", "accumulation"}
    d.requires_grad_(True)
    method.student.zero_grad(set_to_none=True)
    method.adversary_loss(0)["loss"].backward()
    assert all(p.grad is not None for p in d.parameters())
    assert all(p.grad is None for p in method.student.parameters())


@pytest.mark.parametrize("options, match", [
    ({"accumulation": "attention"},
     "options.accumulation must be one of learned, uniform, same_depth, got 'attention'"),
    ({"logit_scale": 0.0}, "options.logit_scale must be > 0, got 0.0"),
    ({"distill_layers": ["model.13", "model.9"]}, "must be in forward order"),
    ({"distill_layers": ["model.9", "model.99"]}, "no module 'model.99'"),
    ({"gan_mode": "wgan"}, "gan_mode"),
    ({"recon_target": "teacher_output"}, "options.recon_target must be one of"),
])
def test_bad_options_are_one_config_error(options, match):
    with pytest.raises(DfkdError, match=match) as info:
        make(**options)
    assert "\n" not in str(info.value)


def run(data_root, teacher, out, iters, config, *extra):
    return compress_tiny(data_root, teacher, out, iters, "--config",
                         f"configs/ackd/{config}.yaml", "--set", "ndf=4", *extra)


def test_pix2pix_run_and_bad_key(fake_data_root, tmp_path, capsys):
    teacher = save_teacher(tmp_path / "teacher")
    assert run(fake_data_root, teacher, tmp_path / "run", 2, "edges2fashion") == 0
    printed = capsys.readouterr().out
    assert "pruned from the teacher" in printed and "latest_net_D.pth" in printed
    assert "distilled layers: model.9, model.11, model.13, model.15" in printed
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["method"] == "ackd" and metrics["config"]["options"]["accumulation"] == "learned"
    aux = torch.load(tmp_path / "run" / "latest.pt", weights_only=True)["players"]["student"]["aux"]
    logits = [aux[f"accumulation.logits.{k}"] for k in range(4)]
    assert [len(w) for w in logits] == [1, 2, 3, 4] and logits[3].abs().sum() > 0  # trained
    with pytest.raises(ConfigError, match="method ackd: unknown config key 'options.style_weight'"):
        run(fake_data_root, teacher, tmp_path / "bad", 1, "edges2fashion",
            "--set", "options.style_weight=1")
    with pytest.raises(ConfigError, match="options.accumulation must be one of"):
        run(fake_data_root, teacher, tmp_path / "bad2", 1, "edges2fashion",
            "--set", "options.accumulation=mean")


def test_cyclegan_resume_is_exact(fake_data_root, tmp_path):
    """Stopped after 2 iterations and resumed to 4 = 4 straight, bit for bit (the student,
    its 1×1 maps and accumulation logits, and D)."""
    teacher = save_teacher(tmp_path / "teacher", norm="instance", d_channels=1,
                           names=("G_A", "D_A"))
    extra = ["--task", "cyclegan"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    run(fake_data_root, teacher, straight, 4, "sneaker2boot", *extra)
    run(fake_data_root, teacher, split, 2, "sneaker2boot", *extra)
    run(fake_data_root, teacher, split, 4, "sneaker2boot", "--resume", *extra)
    a = torch.load(straight / "latest.pt", weights_only=True)["players"]
    b = torch.load(split / "latest.pt", weights_only=True)["players"]
    assert any(k.startswith("accumulation.logits") for k in a["student"]["aux"])
    for player, part in (("student", "model"), ("student", "aux"), ("discriminator", "model")):
        for key, value in a[player][part].items():
            assert torch.equal(value, b[player][part][key]), (player, part, key)
    metrics = json.loads((straight / "metrics.json").read_text())
    assert metrics["method"] == "ackd" and metrics["discriminator"].endswith("latest_net_D_A.pth")

"""Adversarial student KD on logits (``adversarial_logits``, called ``adversarial`` before
issue 20 gave that name to Wang et al. 2018's feature form, tests/test_adversarial_features.py)
and ANC (Belagiannis et al. 2018): the terms by hand, the critic player the loop adds for
them, and both command lines."""
import json

import pytest
import torch
import torch.nn.functional as F
from conftest import FixedBatch

from dfkd.adversarial_kd.train import main as train_kd
from dfkd.core.errors import ConfigError
from dfkd.discriminator_distillation.train import main as train_dfkd
from dfkd.engine import AdversarialLoop, Player
from dfkd.engine.config import PlayerConfig
from dfkd.knowledge import StudentLoss
from dfkd.knowledge.config import AdversarialSettings, KnowledgeConfig
from dfkd.nets.discriminators import OutputDiscriminator
from tests.test_train_kd import kd_args


def build(tiny_classifier, weights, num_classes=10, gan_mode="vanilla"):
    torch.manual_seed(0)
    teacher, student = tiny_classifier(width=6).eval(), tiny_classifier(width=3, num_classes=num_classes)
    cfg = KnowledgeConfig(adversarial=AdversarialSettings(gan_mode=gan_mode))
    loss = StudentLoss(weights, teacher, student, torch.zeros(2, 1, 8, 8), cfg)
    return teacher, student, loss


def test_discriminator_shape():
    assert OutputDiscriminator(10, hidden=8)(torch.randn(5, 10)).shape == (5,)


def test_adversarial_term_and_critic_loss_by_hand(tiny_classifier):
    teacher, student, loss = build(tiny_classifier, {"adversarial_logits": 2.0})
    x = torch.randn(4, 1, 8, 8)
    d = loss.critics()["adversarial_logits"]
    t, s = teacher(x).detach(), student(x)
    out = loss(x)
    # student: non-saturating −log σ(D(z_s)); weighted by 2
    assert float(out["adversarial_logits"]) == pytest.approx(float(F.softplus(-d(s)).mean()),
                                                             rel=1e-5)
    assert float(out["loss"]) == pytest.approx(2 * float(out["adversarial_logits"]), rel=1e-6)
    critic = loss.critic_loss(x)
    expected = 0.5 * (F.softplus(-d(t)).mean() + F.softplus(d(s)).mean())  # ½[BCE(real)+BCE(fake)]
    assert float(critic["loss"]) == pytest.approx(float(expected), rel=1e-5)
    grads = torch.autograd.grad(critic["loss"], list(d.parameters()), allow_unused=True)
    assert all(g is not None for g in grads)


def test_critic_loss_in_wgangp_mode_adds_the_penalty(tiny_classifier):
    teacher, student, loss = build(tiny_classifier, {"adversarial_logits": 1.0},
                                   gan_mode="wgangp")
    x = torch.randn(4, 1, 8, 8)
    torch.manual_seed(1)
    critic = loss.critic_loss(x)
    d = loss.critics()["adversarial_logits"]
    t, s = teacher(x).detach(), student(x).detach()
    assert float(critic["adversarial_logits/real"]) == pytest.approx(float(-d(t).mean()), rel=1e-5)
    assert float(critic["adversarial_logits/fake"]) == pytest.approx(float(d(s).mean()), rel=1e-5)
    # the penalty by hand: 10 · mean (‖∇D(x̂)‖ − 1)², x̂ = ε·t + (1 − ε)·s, the same ε draws
    torch.manual_seed(1)
    eps = torch.rand(4, 1)
    mixed = (eps * t + (1 - eps) * s).requires_grad_(True)
    (grad,) = torch.autograd.grad(d(mixed).sum(), mixed)
    gp = 10 * (grad.norm(dim=1) - 1).pow(2).mean()
    assert float(critic["adversarial_logits/gp"]) == pytest.approx(float(gp), rel=1e-5)
    assert float(gp) > 0  # a fresh critic's gradient norm is not exactly 1
    expected = (critic["adversarial_logits/real"] + critic["adversarial_logits/fake"]
                + critic["adversarial_logits/gp"])
    assert float(critic["loss"]) == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.parametrize("mode", ["vanilla", "lsgan", "hinge", "wgangp"])
def test_every_gan_mode_gives_finite_differentiable_losses(tiny_classifier, mode):
    _, student, loss = build(tiny_classifier, {"adversarial_logits": 1.0, "adversarial": 1.0,
                                               "anc": 1.0, "kdcan": 1.0}, gan_mode=mode)
    x, y = torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 3])
    critic = loss.critic_loss(x, y)
    out = loss(x, y)
    assert torch.isfinite(critic["loss"]) and torch.isfinite(out["loss"])
    out["loss"].backward()
    assert student.fc.weight.grad is not None and student.fc.weight.grad.abs().sum() > 0


def test_discriminators_belong_to_the_critic_not_the_student(tiny_classifier):
    _, _, loss = build(tiny_classifier, {"kd": 1.0, "adversarial_logits": 1.0, "anc": 1.0})
    critics = loss.critics()
    assert set(critics) == {"adversarial_logits", "anc"}
    own = {id(p) for p in loss.parameters()}
    assert own and not own & {id(p) for p in critics.parameters()}  # the ANC adapter is own
    assert not any("critic" in k for k in loss.state_dict())
    assert critics["anc"].net[0].in_features == 24  # the teacher's embedding (6 channels × 2 × 2)


def test_bad_settings_are_named(tiny_classifier):
    with pytest.raises(ConfigError, match=r"knowledge\.adversarial\.gan_mode 'wgan'"):
        build(tiny_classifier, {"adversarial_logits": 1.0}, gan_mode="wgan")
    with pytest.raises(ConfigError, match="teacher has 10 classes and the student 7"):
        build(tiny_classifier, {"adversarial_logits": 1.0}, num_classes=7)
    _, _, loss = build(tiny_classifier, {"kd": 1.0})
    with pytest.raises(ConfigError, match="no student_loss term has a discriminator"):
        loss.critic_loss(torch.randn(2, 1, 8, 8))


def test_critic_and_student_phases_move_only_their_own_parameters(tiny_classifier, tmp_path):
    teacher, student, loss = build(tiny_classifier, {"ce": 1.0, "adversarial_logits": 1.0,
                                                     "anc": 1.0})
    method = FixedBatch(loss, torch.randn(8, 1, 8, 8), torch.arange(8) % 10)
    s_player = Player.from_config("student", student, PlayerConfig(), 2,
                                  aux=torch.nn.ModuleDict({"knowledge": loss}))
    critic = Player.from_config("critic", loss.critics(), PlayerConfig(), 2)
    loop = AdversarialLoop(method, s_player, None, 2, tmp_path, critic=critic)
    assert [p.name for p in loop.players] == ["critic", "student"]
    parts = {"teacher": teacher, "student": student, "adapter": loss.terms["anc"].adapter,
             "critics": critic.model}

    def moved(step):
        before = {k: [p.detach().clone() for p in m.parameters()] for k, m in parts.items()}
        step()
        return {k for k, m in parts.items()
                if any(not torch.equal(a, b) for a, b in zip(before[k], m.parameters()))}

    assert moved(lambda: loop._phase(critic, method.critic_loss, 0)) == {"critics"}
    assert moved(lambda: loop._phase(s_player, method.student_loss, 0)) == {"student", "adapter"}
    losses = loop.step(1)
    assert {"critic/adversarial_logits/real", "critic/anc/fake", "student/adversarial_logits",
            "student/anc"} <= set(losses)


def test_train_kd_with_adversarial_terms_resumes_exactly(teacher, fake_data_root, tmp_path):
    extra = ("--loss", "ce=1", "kd=1", "adversarial_logits=0.5", "adversarial=0.5", "anc=0.5",
             "--set", "student.schedule.horizon=12")
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train_kd(kd_args(teacher, fake_data_root, straight, 2, *extra)) == 0
    train_kd(kd_args(teacher, fake_data_root, split, 1, *extra))
    train_kd(kd_args(teacher, fake_data_root, split, 2, *extra, "--resume"))
    a = torch.load(straight / "latest.pt", weights_only=True)["players"]
    b = torch.load(split / "latest.pt", weights_only=True)["players"]
    assert set(a) == {"student", "critic"}
    for player in a:
        for key, value in a[player]["model"].items():
            assert torch.equal(value, b[player]["model"][key]), (player, key)
    assert a["critic"]["optimizer"]["param_groups"][0]["lr"] == 2e-4  # critic: Adam 2e-4


def test_data_free_run_with_an_adversarial_term(teacher, fake_data_root, tmp_path):
    out = tmp_path / "dfad"
    args = ["--method", "dfad", "--teacher-ckpt", str(teacher), "--data-root", str(fake_data_root),
            "--out", str(out), "--iters", "2", "--batch-size", "16", "--set", "generator.ngf=4",
            "--set", "generator.nz=8", "--set", "train.log_every=1", "--set", "critic.steps=2",
            "--loss", "l1=1", "adversarial_logits=0.1"]
    assert train_dfkd(args) == 0
    state = torch.load(out / "latest.pt", weights_only=True)["players"]
    assert set(state) == {"generator", "critic", "student"}
    assert state["critic"]["optimizer"]["state"]  # the critic stepped
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["critic"]["steps"] == 2

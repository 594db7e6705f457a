"""KDGAN (Wang et al., NeurIPS 2018): Gumbel-softmax label sampling, D(x, y), the three
players' losses by hand, which parameters each phase moves, the temperature schedule,
exact resume through tools/train_kd.py, and clear errors for bad options."""
import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from dfkd.adversarial_kd import METHODS, RealDataSetup
from dfkd.adversarial_kd import kdgan_losses as L
from dfkd.adversarial_kd.kdgan import KDGAN, KDGANOptions
from dfkd.adversarial_kd.train import main as train_kd
from dfkd.core.config import CONFIG_DIR
from dfkd.core.errors import ConfigError
from dfkd.engine import AdversarialLoop, Player
from dfkd.engine.config import PlayerConfig
from tests.test_train_kd import kd_args

KDGAN_CONFIG = str(CONFIG_DIR / "kd" / "fashion_mnist_kdgan.yaml")


def test_gumbel_softmax_is_one_hot_forward_and_soft_backward_by_hand():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.4, 0.3]], requires_grad=True)
    u = torch.tensor([[0.2, 0.9, 0.5], [0.7, 0.1, 0.95]])
    tau = 0.5
    sample = L.gumbel_softmax_sample(logits, tau, u)
    log_p = torch.log_softmax(logits.detach(), 1)
    soft = torch.softmax((log_p - torch.log(-torch.log(u))) / tau, 1)
    # forward: exactly one-hot at argmax(log p + g): row 0's noise (g = −0.48, 2.25, 0.37)
    # overturns the logits' argmax; row 1's (1.03, −0.83, 2.97) picks class 2
    g = -torch.log(-torch.log(u))
    assert torch.equal(sample.detach(), F.one_hot((log_p + g).argmax(1), 3).float())
    assert sample.detach().tolist() == [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    # backward: the gradient of the continuous sample (straight-through)
    w = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    (grad,) = torch.autograd.grad((sample * w).sum(), logits)
    ref_logits = logits.detach().clone().requires_grad_(True)
    ref_soft = torch.softmax((torch.log_softmax(ref_logits, 1) + g) / tau, 1)
    (expected,) = torch.autograd.grad((ref_soft * w).sum(), ref_logits)
    torch.testing.assert_close(grad, expected)
    torch.testing.assert_close(ref_soft.detach(), soft)
    assert grad.abs().sum() > 0
    # drawn from torch's global generator: a fixed seed gives the same labels
    torch.manual_seed(3)
    a = L.gumbel_softmax_sample(torch.randn(64, 5), 1.0)
    torch.manual_seed(3)
    b = L.gumbel_softmax_sample(torch.randn(64, 5), 1.0)
    assert torch.equal(a, b) and torch.equal(a.sum(1), torch.ones(64))


def test_discriminator_and_classifier_losses_by_hand():
    d = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    ys = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    yt = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    torch.testing.assert_close(L.label_scores(d, ys), torch.tensor([-2.0, -1.0]))
    out = L.discriminator_loss(d, torch.tensor([2, 1]), ys, yt, alpha=0.2)
    sig = torch.sigmoid
    real = -(torch.log(sig(torch.tensor(0.5))) + torch.log(sig(torch.tensor(3.0)))) / 2
    fake_s = -(torch.log(1 - sig(torch.tensor(-2.0))) + torch.log(1 - sig(torch.tensor(-1.0)))) / 2
    fake_t = -(torch.log(1 - sig(torch.tensor(1.0))) + torch.log(1 - sig(torch.tensor(3.0)))) / 2
    torch.testing.assert_close(out["real"], real)
    torch.testing.assert_close(out["student"], fake_s)
    torch.testing.assert_close(out["teacher"], fake_t)
    torch.testing.assert_close(out["loss"], real + 0.2 * fake_s + 0.8 * fake_t)
    s = torch.tensor([-2.0, 1.0])
    torch.testing.assert_close(L.classifier_adversarial_loss(s), -torch.log(sig(s)).mean())
    torch.testing.assert_close(L.classifier_adversarial_loss(s, nonsaturating=False),
                               torch.log(1 - sig(s)).mean())
    a, b = torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[0.0, 4.0], [1.0, -1.0]])
    torch.testing.assert_close(L.logit_l2(a, b), torch.tensor((0.5 * 5 + 0.5 * 2) / 2))
    torch.testing.assert_close(L.distillation_loss(a, b, "kl"),
                               F.kl_div(F.log_softmax(a, 1), F.softmax(b, 1),
                                        reduction="batchmean"))
    with pytest.raises(ValueError, match="unknown distillation loss 'l3'"):
        L.distillation_loss(a, b, "l3")


def test_temperature_anneals_by_0_88_per_epoch_down_to_0_1():
    taus = [L.gumbel_temperature(e, 10.0, 0.1, 0.88) for e in range(40)]
    assert taus[:3] == pytest.approx([10.0, 8.8, 7.744])
    assert taus[36] == pytest.approx(10 * 0.88 ** 36) and taus[36] > 0.1  # 0.1003
    assert taus[37] == 0.1 and min(taus) == 0.1  # 10·0.88^37 = 0.088: held at the floor


class Tiny(torch.nn.Module):
    def __init__(self, width=4):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, width),
                                       torch.nn.ReLU(), torch.nn.Linear(width, 3))

    def forward(self, x):
        return self.net(x)


def game(options=KDGANOptions(), adversary=None):
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(8, 1, 4, 4), torch.arange(8) % 3)
    teacher, student = Tiny(6), Tiny(3)
    method = KDGAN(teacher, student, adversary, options, data,
                   RealDataSetup(4, 0, torch.device("cpu")))
    return method, teacher, student, data


def test_each_players_loss_by_hand_with_fixed_draws():
    o = KDGANOptions(alpha=0.3, beta=2.0, gamma=0.5, ce=0.25)
    method, teacher, student, _ = game(o)
    assert method.steps_per_epoch == 2 and method.tau(0) == 10.0 and method.tau(2) == 8.8
    images, labels = method.batch(0)
    d = method.discriminator
    for player, call in (("discriminator", method.adversary_loss),
                         ("teacher", method.critic_loss), ("student", method.student_loss)):
        torch.manual_seed(7)
        out = call(0)
        torch.manual_seed(7)  # the same uniform draws, in the method's order
        with torch.no_grad():
            s, t, dl = student(images), teacher(images), d(images)
        if player == "discriminator":
            ys = F.one_hot(L.gumbel_softmax_sample(s, 10.0).argmax(1), 3).float()
            yt = F.one_hot(L.gumbel_softmax_sample(t, 10.0).argmax(1), 3).float()
            real = F.softplus(-dl[torch.arange(4), labels]).mean()
            expected = (real + 0.3 * F.softplus((dl * ys).sum(1)).mean()
                        + 0.7 * F.softplus((dl * yt).sum(1)).mean())
        else:
            own, other, adv_w, dist_w = ((t, s, 0.7, 0.5) if player == "teacher"
                                         else (s, t, 0.3, 2.0))
            y = L.gumbel_softmax_sample(own, 10.0)
            expected = (adv_w * F.softplus(-(dl * y).sum(1)).mean()
                        + dist_w * 0.5 * (own - other).pow(2).sum(1).mean())
            if player == "student":
                expected = expected + 0.25 * F.cross_entropy(s, labels)
        torch.testing.assert_close(out["loss"].detach(), expected, msg=player)


def test_discriminator_is_a_copy_of_the_teacher_unless_given():
    method, teacher, _, _ = game()
    assert method.discriminator is not teacher
    for a, b in zip(method.discriminator.parameters(), teacher.parameters()):
        assert torch.equal(a, b)
    wrong = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 5))
    with pytest.raises(ConfigError, match="the discriminator gives 5"):
        game(adversary=wrong)


def test_each_phase_moves_only_its_own_network(tmp_path):
    method, teacher, student, _ = game()
    cfg = PlayerConfig()
    players = {name: Player.from_config(name, net, cfg, 2) for name, net in
               (("discriminator", method.discriminator), ("teacher", teacher),
                ("student", student))}
    loop = AdversarialLoop(method, players["student"], players["discriminator"], 2, tmp_path,
                           critic=players["teacher"])
    assert [p.name for p in loop.players] == ["discriminator", "teacher", "student"]
    nets = {name: p.model for name, p in players.items()}

    def moved(player, loss_fn):
        before = {k: [p.detach().clone() for p in m.parameters()] for k, m in nets.items()}
        loop._phase(player, loss_fn, 0)
        return {k for k, m in nets.items()
                if any(not torch.equal(a, b) for a, b in zip(before[k], m.parameters()))}

    assert moved(players["discriminator"], method.adversary_loss) == {"discriminator"}
    assert moved(players["teacher"], method.critic_loss) == {"teacher"}
    assert moved(players["student"], method.student_loss) == {"student"}


@pytest.mark.parametrize("override, message", [
    ("options.alpha=2", r"method kdgan: options\.alpha must be in \[0, 1\], got 2\.0"),
    ("options.tau_decay=1.5", r"options\.tau_decay must be in \(0, 1\], got 1\.5"),
    ("options.distill=l3", r"options\.distill 'l3': use one of l2, kl"),
    ("options.bogus=1", r"method kdgan: unknown config key 'options\.bogus'"),
])
def test_bad_options_are_one_clear_error(override, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        train_kd(["--config", KDGAN_CONFIG, "--out", str(tmp_path), "--set", override])


def test_tool_refuses_what_kdgan_does_not_read(tmp_path):
    with pytest.raises(ConfigError, match="KDGAN's loss is its own"):
        train_kd(["--config", KDGAN_CONFIG, "--out", str(tmp_path), "--loss", "kd=1"])
    with pytest.raises(ConfigError, match="method afd has its own tool"):
        train_kd(["--out", str(tmp_path), "--set", "method=afd"])
    with pytest.raises(ConfigError, match=r"method kd: unknown config key 'options\.alpha'"):
        train_kd(["--out", str(tmp_path), "--set", "options.alpha=1"])


def test_train_kdgan_resumes_exactly_and_keeps_the_teacher_file(teacher, fake_data_root,
                                                                tmp_path, capsys):
    assert "kdgan" in METHODS.names()
    extra = ("--config", KDGAN_CONFIG, "--set", "options.tau_decay=0.5")
    before = teacher.read_bytes()
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train_kd(kd_args(teacher, fake_data_root, straight, 2, *extra)) == 0
    assert "the teacher keeps training in the game" in capsys.readouterr().out
    train_kd(kd_args(teacher, fake_data_root, split, 1, *extra))
    train_kd(kd_args(teacher, fake_data_root, split, 2, *extra, "--resume"))
    a = torch.load(straight / "latest.pt", weights_only=True)["players"]
    b = torch.load(split / "latest.pt", weights_only=True)["players"]
    assert set(a) == {"discriminator", "teacher", "student"}
    for player in a:
        for key, value in a[player]["model"].items():
            assert torch.equal(value, b[player]["model"][key]), (player, key)
    assert teacher.read_bytes() == before  # the checkpoint file is not trained
    start = torch.load(teacher, weights_only=True)
    weights = start.get("state_dict", start.get("model", start))
    moved = [k for k, v in a["teacher"]["model"].items()
             if k in weights and not torch.equal(v, weights[k])]
    assert moved  # ... but the teacher in the game is
    metrics = json.loads((straight / "metrics.json").read_text())
    assert metrics["method"] == "kdgan" and metrics["options"]["alpha"] == 0.2
    assert "teacher_acc_in_game" in metrics["history"][-1]
    assert metrics["history"][0]["iteration"] == metrics["iters"] // 2
    lr = {p: a[p]["optimizer"]["param_groups"][0]["lr"] for p in a}
    assert lr == {"discriminator": 1e-3, "teacher": 5e-4, "student": 5e-4}
    assert math.isfinite(metrics["student_acc"])

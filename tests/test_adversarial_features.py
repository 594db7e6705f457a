"""Issue 20's adversarial terms: ``adversarial`` on penultimate features (Wang et al. 2018),
its logit form under its new name ``adversarial_logits``, and ``kdcan``'s label-conditioned
discriminator (Xu et al. 2018): the terms and critic losses by hand, the discriminators'
inputs, which parameters each phase moves, a short run of the tool, clear errors."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import FixedBatch

from dfkd.adversarial_kd.train import main as train_kd
from dfkd.core.config import CONFIG_DIR
from dfkd.core.errors import ConfigError
from dfkd.engine import AdversarialLoop, Player
from dfkd.engine.config import PlayerConfig
from dfkd.knowledge import StudentLoss
from dfkd.knowledge.adversarial import conditioned
from dfkd.knowledge.config import AdversarialSettings, KnowledgeConfig
from tests.test_train_kd import kd_args


def build(tiny_classifier, weights, student_width=3, gan_mode="vanilla", num_classes=10):
    torch.manual_seed(0)
    teacher = tiny_classifier(width=6).eval()
    student = tiny_classifier(width=student_width, num_classes=num_classes)
    cfg = KnowledgeConfig(adversarial=AdversarialSettings(gan_mode=gan_mode, hidden=8))
    return teacher, student, StudentLoss(weights, teacher, student, torch.zeros(2, 1, 8, 8), cfg)


def embeddings(model, x):
    """The input of the model's last nn.Linear (TinyClassifier: fc), by hand."""
    return model.pool(torch.relu(model.bn(model.conv(x)))).flatten(1)


def test_feature_term_judges_penultimate_features_by_hand(tiny_classifier):
    teacher, student, loss = build(tiny_classifier, {"adversarial": 2.0})
    term, d = loss.terms["adversarial"], loss.critics()["adversarial"]
    assert isinstance(term.adapter, nn.Linear)  # 12-d student features -> 24-d teacher's
    assert (term.adapter.in_features, term.adapter.out_features) == (12, 24)
    assert d.net[0].in_features == 24  # D reads features, not the 10 logits
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        z_t = embeddings(teacher, x)
    student.eval()  # one BN mode for the run and the hand computation
    z_s = term.adapter(embeddings(student, x))
    out = loss(x)
    # the student's side: non-saturating −log σ(D(A z_s)), weighted by γ = 2
    expected = F.softplus(-d(z_s)).mean()
    torch.testing.assert_close(out["adversarial"], expected)
    torch.testing.assert_close(out["loss"], 2 * expected)
    # D's side: ½[−log σ(D(z_t)) − log(1 − σ(D(A z_s)))], the student's features detached
    critic = loss.critic_loss(x)
    torch.testing.assert_close(critic["loss"], 0.5 * (F.softplus(-d(z_t)).mean()
                                                      + F.softplus(d(z_s.detach())).mean()))


def test_equal_widths_are_compared_without_a_map(tiny_classifier):
    _, _, loss = build(tiny_classifier, {"adversarial": 1.0, "anc": 1.0}, student_width=6)
    assert isinstance(loss.terms["adversarial"].adapter, nn.Identity)
    assert isinstance(loss.terms["anc"].adapter, nn.Linear)  # ANC always maps


def test_logit_form_keeps_its_old_behaviour_under_its_new_name(tiny_classifier):
    teacher, student, loss = build(tiny_classifier, {"adversarial_logits": 1.0})
    d = loss.critics()["adversarial_logits"]
    assert d.net[0].in_features == 10
    x = torch.randn(4, 1, 8, 8)
    student.eval()
    t, s = teacher(x).detach(), student(x)
    torch.testing.assert_close(loss(x)["adversarial_logits"], F.softplus(-d(s)).mean())
    torch.testing.assert_close(loss.critic_loss(x)["loss"],
                               0.5 * (F.softplus(-d(t)).mean() + F.softplus(d(s.detach())).mean()))


def test_kdcan_conditions_its_discriminator_on_the_label_by_hand(tiny_classifier):
    z = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
    torch.testing.assert_close(conditioned(z, torch.tensor([2, 0])),
                               torch.tensor([[1.0, -2.0, 0.5, 0.0, 0.0, 1.0],
                                             [0.0, 3.0, -1.0, 1.0, 0.0, 0.0]]))
    teacher, student, loss = build(tiny_classifier, {"l1": 1.0, "kdcan": 0.5})
    term, d = loss.terms["kdcan"], loss.critics()["kdcan"]
    assert d.net[0].in_features == 20  # 10 logits + 10-way one-hot
    x, y = torch.randn(4, 1, 8, 8), torch.tensor([3, 1, 4, 1])
    student.eval()
    t, s = teacher(x).detach(), student(x)
    views = loss.views(x, y)
    onehot = F.one_hot(y, 10).float()
    torch.testing.assert_close(term.teacher_side(views), torch.cat([t, onehot], 1))
    torch.testing.assert_close(term.student_side(views), torch.cat([s, onehot], 1))
    out = loss(x, y)
    adversarial = F.softplus(-d(torch.cat([s, onehot], 1))).mean()
    torch.testing.assert_close(out["kdcan"], adversarial)
    torch.testing.assert_close(out["loss"], (s - t).abs().mean() + 0.5 * adversarial)
    critic = loss.critic_loss(x, y)
    torch.testing.assert_close(critic["loss"], 0.5 * (
        F.softplus(-d(torch.cat([t, onehot], 1))).mean()
        + F.softplus(d(torch.cat([s.detach(), onehot], 1))).mean()))
    # the same logits under another label are judged differently: D reads the condition
    other = loss.critic_loss(x, (y + 1) % 10)
    assert float(other["kdcan/real"]) != pytest.approx(float(critic["kdcan/real"]))


def test_errors_name_the_problem(tiny_classifier):
    _, _, loss = build(tiny_classifier, {"kdcan": 1.0})
    with pytest.raises(ConfigError, match=r"terms kdcan need class targets"):
        loss(torch.randn(2, 1, 8, 8))
    with pytest.raises(ConfigError, match=r"kdcan compares logits, but the teacher has 10 "
                                          r"classes and the student 7"):
        build(tiny_classifier, {"kdcan": 1.0}, num_classes=7)
    with pytest.raises(ConfigError, match=r"adversarial_logits compares logits"):
        build(tiny_classifier, {"adversarial_logits": 1.0}, num_classes=7)
    with pytest.raises(ConfigError, match=r"knowledge\.adversarial\.gan_mode 'wgan'"):
        build(tiny_classifier, {"adversarial": 1.0}, gan_mode="wgan")


def test_each_phase_moves_only_its_own_parameters(tiny_classifier, tmp_path):
    teacher, student, loss = build(tiny_classifier, {"ce": 1.0, "adversarial": 1.0,
                                                     "kdcan": 1.0})
    method = FixedBatch(loss, torch.randn(8, 1, 8, 8), torch.arange(8) % 10)
    s_player = Player.from_config("student", student, PlayerConfig(), 2,
                                  aux=nn.ModuleDict({"knowledge": loss}))
    critic = Player.from_config("critic", loss.critics(), PlayerConfig(), 2)
    loop = AdversarialLoop(method, s_player, None, 2, tmp_path, critic=critic)
    parts = {"teacher": teacher, "student": student, "map": loss.terms["adversarial"].adapter,
             "D_features": critic.model["adversarial"], "D_kdcan": critic.model["kdcan"]}

    def moved(step):
        before = {k: [p.detach().clone() for p in m.parameters()] for k, m in parts.items()}
        step()
        return {k for k, m in parts.items()
                if any(not torch.equal(a, b) for a, b in zip(before[k], m.parameters()))}

    assert moved(lambda: loop._phase(critic, method.critic_loss, 0)) == {"D_features", "D_kdcan"}
    assert moved(lambda: loop._phase(s_player, method.student_loss, 0)) == {"student", "map"}


@pytest.mark.parametrize("name", ["adversarial", "kdcan"])
def test_shipped_configs_run_with_the_tool(name, teacher, fake_data_root, tmp_path):
    out = tmp_path / name
    config = CONFIG_DIR / "kd" / f"fashion_mnist_{name}.yaml"
    assert train_kd(kd_args(teacher, fake_data_root, out, 1, "--config", str(config),
                            "--set", "knowledge.warmup=0")) == 0
    state = torch.load(out / "latest.pt", weights_only=True)["players"]
    assert set(state) == {"student", "critic"} and set(state["critic"]["model"]) and all(
        key.startswith(f"{name}.") for key in state["critic"]["model"])

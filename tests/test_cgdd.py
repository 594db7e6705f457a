"""CGDD (Yu et al., arXiv:2112.15358): its losses against hand-computed values on
conditional batches, its per-iteration schedule, its option checks, its configs, and exact
resume through tools/train_dfkd.py.

Only the paper's abstracts could be read (methods/cgdd.py): the losses tested are the
abstract-supported terms L_G = α_ce·CE(T(x), y) − α_adv·KL(p_T ‖ p_S) and
L_S = α_kd·τ²·KL + α_sce·CE(S(x), y) + β·Σ AT.
"""
import json
import math

import pytest
import torch
import torch.nn as nn
from conftest import (
    TinyClassifier,
    assert_same_tensors,
    at_by_hand,
    groups_by_hand,
    make_method,
    straight_and_resumed,
)
from test_cli import dfkd_args

import dfkd.discriminator_distillation.methods  # noqa: F401
from dfkd.core.config import CONFIG_DIR, build_config, read_options
from dfkd.core.errors import ConfigError
from dfkd.data.specs import DatasetSpec
from dfkd.discriminator_distillation import METHODS
from dfkd.discriminator_distillation.config import DFKDConfig
from dfkd.discriminator_distillation.methods.cgdd import CGDD, CGDDOptions
from dfkd.discriminator_distillation.replay import ReplayBuffer
from dfkd.discriminator_distillation.train import main as train_dfkd
from generators import build_generator

SPEC = DatasetSpec("tiny", 1, 8, 10, (0.0,), (1.0,))
B, NZ = 16, 8


# -- hand-written references ------------------------------------------------------------

def ce_by_hand(logits, labels):
    """−(1/N) Σ_i log softmax(logits_i)[y_i], written out."""
    log_p = logits - logits.exp().sum(1, keepdim=True).log()
    return -log_p[torch.arange(len(labels)), labels].mean()


def kl_by_hand(student_logits, teacher_logits, tau=1.0):
    """τ²·(1/N) Σ_i Σ_k p_T,k (log p_T,k − log p_S,k), p = softmax(logits / τ)."""
    p_t = (teacher_logits / tau).softmax(1)
    log_p_s = (student_logits / tau).log_softmax(1)
    return tau ** 2 * (p_t * (p_t.log() - log_p_s)).sum(1).mean()


def asked_labels(seed, n=B, classes=10):
    """The labels CGDD asks for after ``torch.manual_seed(seed)``, drawn as it draws them:
    each class n // K or n // K + 1 times, shuffled (then the latents)."""
    torch.manual_seed(seed)
    labels = (torch.arange(n) % classes)[torch.randperm(n)]
    return labels, torch.randn(n, NZ)


def build(options=None, spec=SPEC, width_t=6, width_s=3, **setup):
    torch.manual_seed(0)
    teacher, student = TinyClassifier(width=width_t).eval(), TinyClassifier(width=width_s)
    g = build_generator("conditional", nz=NZ, ngf=4, img_size=8, channels=1,
                        num_classes=spec.num_classes)
    setup = {"nz": NZ, "batch_size": B, **setup}
    m = make_method("cgdd", teacher, student, g, spec, options=options, **setup)
    return m, teacher, student, g


class FixedLogits(TinyClassifier):
    """A TinyClassifier (so it has attention points) whose output is one fixed row of
    logits for every input."""

    def __init__(self, logits, width=3):
        super().__init__(num_classes=len(logits), width=width)
        self.register_buffer("fixed", torch.tensor(logits))

    def forward(self, x):
        features = super().forward(x)
        return self.fixed.expand(len(x), -1) + 0.0 * features


# -- the losses ---------------------------------------------------------------------------

def test_losses_on_two_classes_equal_numbers_worked_by_hand():
    """K = 2, N = 2, so the asked labels are {0, 1}; T's logits (ln 3, 0) give
    p_T = (3/4, 1/4) and S's (0, 0) give p_S = (1/2, 1/2) for every sample:
      CE(T, y) = ½(ln 4/3 + ln 4) = ½ ln 16/3,  KL(p_T ‖ p_S) = ¾ ln 3/2 − ¼ ln 2,
      CE(S, y) = ln 2,  AT = 0 (S and T share their feature weights)."""
    spec = DatasetSpec("two", 1, 8, 2, (0.0,), (1.0,))
    torch.manual_seed(0)
    teacher = FixedLogits([math.log(3.0), 0.0]).eval()
    student = FixedLogits([0.0, 0.0])
    student.load_state_dict(teacher.state_dict() | {"fixed": student.fixed})
    student.eval()  # BN on running statistics, as the teacher: equal feature maps
    g = build_generator("conditional", nz=NZ, ngf=4, img_size=8, channels=1, num_classes=2)
    m = make_method("cgdd", teacher, student, g, spec, nz=NZ, batch_size=2,
                    options={"ce": 2.0, "adv": 0.5, "kd": 0.7, "student_ce": 0.3, "at": 10.0})
    ce_t = 0.5 * math.log(16 / 3)
    kl = 0.75 * math.log(1.5) - 0.25 * math.log(2.0)
    terms = m.adversary_loss(0)
    assert sorted(m._batch[3].tolist()) == [0, 1]  # one of each class
    torch.testing.assert_close(terms["ce"].item(), ce_t)
    torch.testing.assert_close(terms["adv"].item(), kl)
    torch.testing.assert_close(terms["loss"].item(), 2.0 * ce_t - 0.5 * kl)
    assert terms["asked_class_hits"].item() == 0.5  # T says class 0 for both
    s = m.student_loss(0)
    torch.testing.assert_close(s["kd"].item(), kl)
    torch.testing.assert_close(s["ce"].item(), math.log(2.0))
    torch.testing.assert_close(s["at"].item(), 0.0)
    torch.testing.assert_close(s["loss"].item(), 0.7 * kl + 0.3 * math.log(2.0))


@pytest.mark.parametrize("tau", [1.0, 4.0])
def test_generator_loss_is_label_ce_minus_adversarial_kl(tau):
    m, teacher, student, g = build({"ce": 2.0, "adv": 0.5, "temperature": tau})
    torch.manual_seed(3)
    terms = m.adversary_loss(0)
    labels, z = asked_labels(3)
    x = g(z, labels)
    assert torch.equal(m._batch[3], labels)
    assert sorted(torch.bincount(labels, minlength=10).tolist()) == [1] * 4 + [2] * 6
    ce, kl = ce_by_hand(teacher(x), labels), kl_by_hand(student(x), teacher(x), tau)
    torch.testing.assert_close(terms["ce"], ce)
    torch.testing.assert_close(terms["adv"], kl)
    torch.testing.assert_close(terms["loss"], 2.0 * ce - 0.5 * kl)
    hits = (teacher(x).argmax(1) == labels).float().mean()
    torch.testing.assert_close(terms["asked_class_hits"], hits)


def test_generator_gradient_flows_through_both_terms_to_g_only():
    m, teacher, student, g = build({"ce": 1.0, "adv": 1.0})
    m.adversary_loss(0)["loss"].backward()
    assert all(p.grad is not None for p in g.parameters())
    assert g.label_emb.weight.grad.abs().sum() > 0  # the asked class steers G
    assert all(p.grad is None for p in teacher.parameters())


def test_v1_generator_has_no_adversarial_term():
    """adv: 0 is the v1 abstract's generator: the label CE alone."""
    m, teacher, student, g = build({"ce": 1.0, "adv": 0.0})
    torch.manual_seed(5)
    terms = m.adversary_loss(0)
    labels, z = asked_labels(5)
    torch.testing.assert_close(terms["loss"], ce_by_hand(teacher(g(z, labels)), labels))


@pytest.mark.parametrize("tau", [1.0, 2.0])
def test_student_loss_is_kd_plus_label_ce_plus_attention(tau):
    o = {"kd": 0.7, "student_ce": 0.3, "at": 10.0, "temperature": tau}
    m, teacher, student, g = build(o)
    torch.manual_seed(3)
    m.adversary_loss(0)
    labels, z = asked_labels(3)
    x = g(z, labels).detach()
    terms = m.student_loss(0)  # no replay, no views: the generator step's batch
    kd = kl_by_hand(student(x), teacher(x), tau)
    ce = ce_by_hand(student(x), labels)
    at = at_by_hand(groups_by_hand(student, x), groups_by_hand(teacher, x))
    torch.testing.assert_close(terms["kd"], kd)
    torch.testing.assert_close(terms["ce"], ce)
    torch.testing.assert_close(terms["at"], at)
    torch.testing.assert_close(terms["loss"], 0.7 * kd + 0.3 * ce + 10.0 * at)


def test_default_options_are_the_documented_placeholders():
    assert CGDDOptions() == CGDDOptions(ce=1.0, adv=1.0, kd=1.0, student_ce=1.0, at=250.0,
                                        temperature=1.0)
    assert METHODS.get("cgdd") is CGDD and CGDD.needs_conditional and CGDD.uses_attention


# -- the schedule -------------------------------------------------------------------------

def test_student_steps_of_an_iteration_share_the_last_generator_batch():
    """n_G generator steps each draw fresh balanced labels and z; the n_S student steps
    after them all learn on the batch the last one drew, toward its asked labels."""
    m, teacher, student, g = build({"kd": 0.0, "at": 0.0, "student_ce": 1.0})
    torch.manual_seed(7)
    m.adversary_loss(4)
    first = m._batch
    m.adversary_loss(4)  # a second generator step in the same iteration
    second = m._batch
    assert not torch.equal(first[1], second[1])
    seen = []
    for _ in range(3):  # n_S = 3
        images, logits, targets = m.student_inputs(4)
        seen.append((images, targets))
        m.student_loss(4)
    for images, targets in seen:
        assert images is second[1] and torch.equal(targets, second[3])
    torch.testing.assert_close(second[2], teacher(second[1]))  # cached teacher logits
    # the next iteration asks anew
    m.adversary_loss(5)
    assert m._batch[0] == 5 and not torch.equal(m._batch[1], second[1])
    counts = torch.bincount(m._batch[3], minlength=10)
    assert counts.min() >= B // 10 and counts.max() <= B // 10 + 1


def test_without_generator_steps_the_student_draws_one_conditional_batch_per_iteration():
    m, teacher, student, g = build()
    torch.manual_seed(2)
    a = m.student_inputs(0)
    b = m.student_inputs(0)
    assert a[0] is b[0]  # one batch for the iteration
    labels, z = asked_labels(2)
    with torch.no_grad():
        torch.testing.assert_close(a[0], g(z, labels))
    assert torch.equal(a[2], labels)  # CE targets: the asked labels
    c = m.student_inputs(1)
    assert not torch.equal(c[0], a[0])


def test_replayed_samples_take_the_teachers_class_as_target():
    m, teacher, student, g = build(replay=ReplayBuffer(64), replay_ratio=0.5)
    m.adversary_loss(0)
    m.student_loss(0)  # the buffer holds iteration 0's batch
    m.adversary_loss(1)
    images, logits, targets = m.student_inputs(1)
    labels = m._batch[3]
    n_new = B - round(B * 0.5)
    assert torch.equal(targets[:n_new], labels[:n_new])  # fresh: the asked class
    assert torch.equal(targets[n_new:], logits[n_new:].argmax(1))  # replayed: T's class


def test_loop_alternates_generator_then_student_steps(teacher, fake_data_root, tmp_path,
                                                       monkeypatch):
    """Through train_dfkd: per iteration one generator step, then n_S = 2 student steps on
    that step's batch and asked labels."""
    calls = []
    gen, dist = CGDD.generator_loss, CGDD.distill

    def generator_loss(self, iteration):
        terms = gen(self, iteration)
        calls.append(("G", iteration, self._batch[3].clone()))
        return terms

    def distill(self, images, teacher_logits, targets):
        calls.append(("S", self._batch[0], targets.clone()))
        return dist(self, images, teacher_logits, targets)

    monkeypatch.setattr(CGDD, "generator_loss", generator_loss)
    monkeypatch.setattr(CGDD, "distill", distill)
    args = dfkd_args("cgdd", teacher, fake_data_root, tmp_path / "run", 2)
    assert train_dfkd(args + ["--set", "replay.capacity=0", "--set", "augment.mixup=0",
                              "--set", "augment.crop_padding=0", "--set", "augment.flip=false",
                              "--set", "options.student_ce=1"]) == 0
    assert [c[:2] for c in calls] == [("G", 0), ("S", 0), ("S", 0),
                                      ("G", 1), ("S", 1), ("S", 1)]
    for i in (1, 2, 4, 5):  # the student's CE targets are the asked labels
        assert torch.equal(calls[i][2], calls[3 * (i // 3)][2])


# -- option checks ------------------------------------------------------------------------

def test_generator_without_any_loss_is_a_config_error():
    with pytest.raises(ConfigError, match=r"options\.ce and options\.adv are both 0.*set "
                                          r"options\.ce: 1"):
        build({"ce": 0.0, "adv": 0.0})
    build({"ce": 0.0, "adv": 0.0}, bn_weight=1.0)  # the BN prior alone is a loss


def test_student_without_any_loss_is_a_config_error():
    with pytest.raises(ConfigError, match=r"options\.kd, options\.student_ce and options\.at "
                                          r"are all 0.*set options\.kd: 1"):
        build({"kd": 0.0, "student_ce": 0.0, "at": 0.0})


def test_unconditional_generator_and_negative_weights_are_refused():
    with pytest.raises(ConfigError, match="class-conditional"):
        make_method("cgdd", TinyClassifier(width=6), TinyClassifier(width=3),
                    build_generator("dfad", nz=NZ, ngf=4, img_size=8, channels=1), SPEC,
                    nz=NZ, batch_size=B)
    with pytest.raises(ConfigError, match="options.student_ce"):
        read_options(CGDDOptions, {"student_ce": -1.0}, "cgdd")
    with pytest.raises(ConfigError, match="options.temperature"):
        read_options(CGDDOptions, {"temperature": 0.0}, "cgdd")


# -- configs ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(p.name for p in (CONFIG_DIR / "cgdd").glob("*.yaml")))
def test_every_config_loads_and_says_what_is_reconstructed(name):
    path = CONFIG_DIR / "cgdd" / name
    cfg = build_config(DFKDConfig(), [path])
    options = read_options(CGDDOptions, cfg.options, "cgdd")
    assert cfg.generator.model == "conditional"
    text = path.read_text()
    assert "2112.15358" in text and "abstract" in text
    if name == "fashion_mnist.yaml":  # CPU-engineered
        assert (cfg.teacher, cfg.student.model) == ("lenet5", "lenet5_half")
        assert cfg.train.iters <= 300 and options.student_ce == 0.0
        assert "student_ce" in text and "OFF" in text  # the deviation is named
    else:
        assert "[reconstructed]" in text
        assert (cfg.student.steps, cfg.generator.steps, cfg.train.iters) == (10, 1, 80000)


# -- exact resume -------------------------------------------------------------------------

def test_resume_equals_straight_run_tensor_for_tensor(teacher, fake_data_root, tmp_path):
    """4 iterations straight = 2, then --resume to 4: every tensor of latest.pt (weights,
    optimizer moments, replay buffer, bank, random state) and every evaluation, with every
    CGDD term on (the label CE too), replay and random views."""
    extra = ["--set", "options.student_ce=0.5", "--set", "options.ce=1",
             "--set", "replay.capacity=40", "--set", "replay.policy=reservoir",
             "--set", "student.schedule.horizon=4", "--set", "generator.schedule.horizon=4"]
    a, b = straight_and_resumed(
        lambda out, n: dfkd_args("cgdd", teacher, fake_data_root, out, n) + extra, tmp_path, 4, 2)
    ta = assert_same_tensors(a, b)
    assert any("replay" in k for k in ta)
    assert any(k.startswith("/rng") for k in ta)  # the random stream resumes too
    assert a["last_eval"] == b["last_eval"] and a["best"] == b["best"]
    history_a = json.loads((tmp_path / "straight" / "metrics.json").read_text())["history"]
    history_b = json.loads((tmp_path / "split" / "metrics.json").read_text())["history"]
    assert [h["acc"] for h in history_a] == [h["acc"] for h in history_b]


def test_generator_is_conditional_module():
    """The configured generator asks G for a class through a learned embedding."""
    g = build_generator("conditional", nz=NZ, ngf=4, img_size=8, channels=1, num_classes=10)
    assert isinstance(g.label_emb, nn.Embedding) and g.label_emb.num_embeddings == 10

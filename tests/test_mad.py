"""MAD (Do et al., NeurIPS 2022): the divergence and the δ-bounded losses by hand, the
generator's and the student's losses on conditional batches (G̃ fed from the live embedding
table), the former unconditional half-and-half form, the generator pretraining (the student
untouched), config errors, the z + e_y generator, and exact resume through train_dfkd."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
from conftest import (
    Constant,
    TinyClassifier,
    assert_same_tensors,
    make_method,
    straight_and_resumed,
)
from test_cli import dfkd_args

import dfkd.discriminator_distillation.methods  # noqa: F401  (registers mad)
from dfkd.core.errors import ConfigError
from dfkd.data.specs import DatasetSpec
from dfkd.discriminator_distillation.methods.mad import (
    bounded_generator_term,
    bounded_student_term,
    divergence,
)
from dfkd.engine import AdversarialLoop, Player
from dfkd.engine.player import build_ema
from generators import EmbeddingConditionalGenerator, build_generator, is_conditional

SPEC = DatasetSpec("tiny", 1, 8, 10, (0.0,), (1.0,))
B, NZ = 12, 8
PAPER = {"warmup_rounds": 0}  # the paper's form, past its pretraining


def build(generator="mad", options=None, batch_size=B):
    torch.manual_seed(0)
    teacher, student = TinyClassifier(width=6).eval(), TinyClassifier(width=3)
    g = build_generator(generator, nz=NZ, ngf=4, img_size=8, channels=1, num_classes=10)
    ema = build_ema(g, 0.95)
    with torch.no_grad():  # G̃ other than G, so that a mix-up of the two would show
        for p in ema.module.parameters():
            p.add_(0.1 * torch.randn_like(p))
    m = make_method("mad", teacher, student, g, SPEC, {**PAPER, **(options or {})}, nz=NZ,
                    batch_size=batch_size, generator_ema=ema.module)
    return m, teacher, student, g, ema.module


def balanced(n):
    """What ``DataFreeMethod.labels`` draws, replayed from the same random state."""
    labels = torch.arange(n) % 10
    return labels[torch.randperm(n)]


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- the divergence and the bounds, by hand -----------------------------------------------
def test_divergence_kl_and_l1_by_hand():
    s = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])
    t = torch.tensor([[math.log(3.0), 0.0], [math.log(3.0), 0.0]])
    # sample 0: p_T = (3/4, 1/4), p_S = (1/2, 1/2): KL = 3/4·ln(3/2) + 1/4·ln(1/2)
    kl0 = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert kl0 == pytest.approx(0.1308, abs=1e-4)
    torch.testing.assert_close(divergence(s, t, "kl"), torch.tensor([kl0, 0.0]))
    torch.testing.assert_close(divergence(s, t, "l1"),
                               torch.tensor([math.log(3.0) / 2, 0.0]))
    # τ = 2: softmax(t/2) = (√3, 1)/(√3 + 1), student uniform, times τ² = 4
    q = math.sqrt(3) / (math.sqrt(3) + 1)
    kl_tau = 4 * (q * math.log(2 * q) + (1 - q) * math.log(2 * (1 - q)))
    torch.testing.assert_close(divergence(s[:1], t[:1], "kl", 2.0), torch.tensor([kl_tau]))


def test_delta_bounds_by_hand_values_and_gradients():
    d = torch.tensor([0.05, 0.3, 0.1], requires_grad=True)
    student = bounded_student_term(d, 0.1)  # mean max(D, δ) = (0.1 + 0.3 + 0.1) / 3
    torch.testing.assert_close(student, torch.tensor(0.5 / 3))
    (grad,) = torch.autograd.grad(student, d)
    assert grad[0] == 0 and grad[1] == pytest.approx(1 / 3)  # within δ: nothing to learn
    generator = bounded_generator_term(d, 0.1)  # −mean min(D, δ) = −(0.05 + 0.1 + 0.1) / 3
    torch.testing.assert_close(generator, torch.tensor(-0.25 / 3))
    (grad,) = torch.autograd.grad(generator, d)
    assert grad[0] == pytest.approx(-1 / 3) and grad[1] == 0  # δ apart: pushed no further
    # δ = 0: the plain losses of Eqs. 4 and 6
    torch.testing.assert_close(bounded_student_term(d, 0.0), d.mean())
    torch.testing.assert_close(bounded_generator_term(d, 0.0), -d.mean())


# -- the losses on conditional batches ----------------------------------------------------
def test_generator_loss_by_hand_bounded_kl_nll_and_norm():
    m, teacher, student, g, _ = build(options={"delta": 0.05, "nll": 0.7, "norm": 0.3})
    torch.manual_seed(1)
    terms = m.adversary_loss(5)
    torch.manual_seed(1)
    labels = balanced(B)
    x = g(torch.randn(B, NZ), labels)
    t_logits, s_logits = teacher(x), student(x)
    p_t = t_logits.softmax(1)
    d = (p_t * (p_t.log() - s_logits.log_softmax(1))).sum(1)
    assert (d > 0.05).any() and (d < 0.05).any()  # the bound binds on some samples
    adversarial = -torch.minimum(d, torch.tensor(0.05)).mean()
    nll = -t_logits.log_softmax(1).gather(1, labels[:, None]).mean()
    norm = (g.label_emb.weight[labels] ** 2).sum(1).mean() / NZ
    torch.testing.assert_close(terms["adversarial"], adversarial)
    torch.testing.assert_close(terms["nll"], nll)
    torch.testing.assert_close(terms["norm"], norm)
    torch.testing.assert_close(terms["loss"], adversarial + 0.7 * nll + 0.3 * norm)
    torch.testing.assert_close(terms["disagreement"], d.mean())


def test_generator_gradient_stops_at_delta():
    """With δ below every sample's disagreement, only NLL and norm move G."""
    m, teacher, student, g, _ = build(options={"delta": 1e-6, "nll": 0.0, "norm": 0.0})
    loss = m.adversary_loss(0)["loss"]
    grads = torch.autograd.grad(loss, list(g.parameters()), allow_unused=True)
    assert all(gr is None or not gr.any() for gr in grads)


def test_student_loss_by_hand_on_live_and_momentum_samples():
    """B samples of G(z + e_y) and B of G̃(z' + e_y'), e_y' from G's live table (Fig. 1),
    one student forward, each part's mean max(D, δ) with its weight."""
    m, teacher, student, g, ema = build(options={"delta": 0.05, "weight_live": 2.0,
                                                 "weight_momentum": 0.5})
    assert m.shared_embedding
    torch.manual_seed(2)
    terms = m.student_loss(3)
    torch.manual_seed(2)
    with torch.no_grad():
        y = balanced(B)
        x_live = g(torch.randn(B, NZ), y)
        y2 = balanced(B)
        x_mom = ema.from_latent(torch.randn(B, NZ) + g.label_emb(y2))  # G's E, G̃'s body
    x = torch.cat([x_live, x_mom])
    t_logits = teacher(x)
    p_t = t_logits.softmax(1)
    d = (p_t * (p_t.log() - student(x).log_softmax(1))).sum(1)
    assert (d > 0.05).any() and (d < 0.05).any()  # the bound binds on some samples
    expected = (2.0 * d[:B].clamp(min=0.05).mean() + 0.5 * d[B:].clamp(min=0.05).mean())
    torch.testing.assert_close(terms["loss"], expected)
    torch.testing.assert_close(terms["kl_live"], d[:B].mean())
    torch.testing.assert_close(terms["kl_momentum"], d[B:].mean())
    # the targets a student_loss: block would get are the asked classes
    torch.manual_seed(2)
    _, _, targets = m.student_inputs(3)
    assert torch.equal(targets, torch.cat([y, y2]))


def test_cgdd_conditional_generator_feeds_its_own_momentum_embedding():
    m, teacher, student, g, ema = build("conditional")
    assert is_conditional(g) and not m.shared_embedding
    torch.manual_seed(4)
    images, _, _ = m.student_inputs(0)
    torch.manual_seed(4)
    with torch.no_grad():
        balanced(B), torch.randn(B, NZ)
        y2 = balanced(B)
        x_mom = ema(torch.randn(B, NZ), y2)
    torch.testing.assert_close(images[B:], x_mom)


FORMER = {"divergence": "l1", "delta": 0.0, "student_batch": "split", "weight_live": 0.5,
          "weight_momentum": 0.5, "warmup_rounds": 0}


def test_unconditional_former_form_is_half_live_half_momentum_l1():
    torch.manual_seed(0)
    teacher, student = TinyClassifier(width=6), TinyClassifier(width=3)
    m = make_method("mad", teacher, student, Constant(0.0), SPEC, FORMER, nz=NZ,
                    batch_size=16, generator_ema=Constant(1.0))
    assert not m.needs_conditional
    seen = []
    student.forward = lambda x: (seen.append(x), TinyClassifier.forward(student, x))[1]
    terms = m.student_loss(0)
    batch = seen[-1]
    assert batch.shape == (16, 1, 8, 8)
    assert (batch[:8] == 0).all() and (batch[8:] == 1).all()
    torch.testing.assert_close(terms["loss"], (TinyClassifier.forward(student, batch)
                                               - teacher(batch)).abs().mean())
    g_terms = m.adversary_loss(0)  # DFAD's generator loss: −L1, no NLL without labels
    assert set(g_terms) == {"loss", "adversarial", "disagreement"}
    torch.testing.assert_close(g_terms["loss"], -g_terms["disagreement"])


def test_unconditional_paper_game_has_no_label_terms():
    m, teacher, student, g, _ = build("dfad", {"delta": 0.0})
    torch.manual_seed(1)
    terms = m.adversary_loss(0)
    torch.manual_seed(1)
    x = g(torch.randn(B, NZ))
    p_t = teacher(x).softmax(1)
    kl = (p_t * (p_t.log() - student(x).log_softmax(1))).sum(1).mean()
    assert "nll" not in terms and "norm" not in terms
    torch.testing.assert_close(terms["loss"], -kl)


# -- generator pretraining -----------------------------------------------------------------
def test_pretraining_trains_the_generator_alone_then_the_game_starts(tmp_path):
    m, teacher, student, g, ema = build(options={"warmup_rounds": 2})
    averaged = build_ema(g, 0.95)
    m.generator_ema = averaged.module
    s_player = Player("student", student,
                      torch.optim.SGD(student.parameters(), lr=0.1, momentum=0.9,
                                      weight_decay=1e-4), steps=2)
    g_player = Player("generator", g, torch.optim.Adam(g.parameters(), lr=1e-2), steps=1,
                      ema=averaged)
    loop = AdversarialLoop(m, s_player, g_player, 3, tmp_path)
    student0, g0 = snapshot(student), snapshot(g)
    for it in range(2):
        losses = loop.step(it)
        assert float(losses["student/pretraining"]) == 1.0
        assert same(snapshot(student), student0), it  # weights and BN statistics untouched
        assert not s_player.optimizer.state  # no momentum, no weight decay: no step at all
        assert "generator/nll" in losses
    assert not same(snapshot(g), g0)  # G learned during pretraining
    losses = loop.step(2)
    assert "student/kl_live" in losses and "student/pretraining" not in losses
    assert not same(snapshot(student), student0)


# -- configuration --------------------------------------------------------------------------
@pytest.mark.parametrize("options, match", [
    ({"divergence": "js"}, r"options.divergence must be one of kl, l1"),
    ({"student_batch": "half"}, r"options.student_batch must be one of full, split"),
    ({"weight_live": 0.0, "weight_momentum": 0.0}, r"options.weight_live and "),
])
def test_bad_options_are_one_error_naming_the_key(options, match):
    with pytest.raises(ConfigError, match=match):
        build(options=options)


def test_split_batch_needs_two_samples():
    with pytest.raises(ConfigError, match="train.batch_size"):
        build(options={"student_batch": "split"}, batch_size=1)


def test_mad_needs_momentum_generator():
    torch.manual_seed(0)
    g = build_generator("mad", nz=NZ, ngf=4, img_size=8, channels=1)
    with pytest.raises(ConfigError, match="generator.ema"):
        make_method("mad", TinyClassifier(), TinyClassifier(), g, SPEC, nz=NZ, batch_size=B)


# -- the z + e_y generator ------------------------------------------------------------------
def test_embedding_generator_is_z_plus_e_y_and_matches_cgdd_generator():
    torch.manual_seed(0)
    g = build_generator("mad", nz=NZ, ngf=4, img_size=8, channels=1, num_classes=10)
    assert isinstance(g, EmbeddingConditionalGenerator) and is_conditional(g)
    cgdd = build_generator("conditional", nz=NZ, ngf=4, img_size=8, channels=1,
                           num_classes=10)
    cgdd.load_state_dict(g.state_dict())  # the same weights, under the same names
    z, y = torch.randn(6, NZ), torch.tensor([0, 1, 2, 9, 9, 3])
    out = g(z, y)
    assert out.shape == (6, 1, 8, 8)
    torch.testing.assert_close(out, cgdd(z, y))
    torch.testing.assert_close(out, g.from_latent(z + g.embed(y)))
    torch.testing.assert_close(g.embed(y), g.label_emb.weight[y])
    with pytest.raises(ValueError, match="one label per latent"):
        g(z, y[:3])


# -- exact resume through the command line --------------------------------------------------
@pytest.mark.parametrize("form", [
    ["--set", "options.warmup_rounds=3"],  # the paper's form; split inside pretraining
    ["--set", "generator.model=dfad", *[f for k, v in FORMER.items()
                                        for f in ("--set", f"options.{k}={v}")]],
], ids=["paper", "former"])
def test_resume_equals_straight_run(form, teacher, fake_data_root, tmp_path):
    extra = [*form, "--set", "train.threads=1", "--set", "replay.capacity=40",
             "--set", "replay.policy=reservoir", "--set", "augment.crop_padding=2",
             "--set", "augment.flip=true"]
    a, b = straight_and_resumed(
        lambda out, n: dfkd_args("mad", teacher, fake_data_root, out, n) + extra, tmp_path, 4, 2)
    ta = assert_same_tensors(a, b)
    assert any("/method/replay/images" in k for k in ta)
    assert b["players"]["generator"]["ema"] is not None  # MAD's momentum generator resumed

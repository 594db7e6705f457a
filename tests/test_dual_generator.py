"""Dual-generator data-free KD (Zhang, Ju, Ren 2023): the distribution-difference term and
DAFL's priors on the student by hand, the whole generator loss replayed from its latents,
which generator each term and each phase moves, the student's data (the student-generator's
batch), option errors, the configs, exact resume of both generators and the student, and the
benchmark's comparison line."""
from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from conftest import TinyClassifier, make_method
from test_benchmark_data_free import make_row
from test_cli import dfkd_args

import dfkd.discriminator_distillation.methods  # noqa: F401  (registers dual_generator)
from benchmarks.data_free import report
from dfkd.core.config import CONFIG_DIR, build_config, read_options
from dfkd.core.errors import ConfigError
from dfkd.data.specs import DatasetSpec
from dfkd.discriminator_distillation.config import DFKDConfig
from dfkd.discriminator_distillation.methods.dual_generator import (
    DualGeneratorOptions,
    dafl_priors,
    distribution_difference,
    row_softmax_kl,
)
from dfkd.discriminator_distillation.train import main as train_dfkd
from dfkd.engine import AdversarialLoop, Player
from dfkd.nets.hooks import FeatureRecorder
from generators import build_generator

SPEC = DatasetSpec("tiny", 1, 8, 10, (0.0,), (1.0,))
B, NZ = 12, 8


def build(options=None, generator="dafl"):
    torch.manual_seed(0)
    teacher, student = TinyClassifier(width=6).eval(), TinyClassifier(width=3)
    g = build_generator(generator, nz=NZ, ngf=4, img_size=8, channels=1)
    m = make_method("dual_generator", teacher, student, g, SPEC, options, nz=NZ, batch_size=B)
    return m, teacher, student, g


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- the losses by hand ---------------------------------------------------------------------
def test_row_softmax_kl_by_hand_and_as_the_scripts_kl_div():
    # one image, two rows of two pixels: row 0 p = (1/2, 1/2) vs q = (3/4, 1/4), row 1 equal
    student = torch.tensor([[[[0.0, 0.0], [1.0, 2.0]]]])
    teacher = torch.tensor([[[[math.log(3.0), 0.0], [1.0, 2.0]]]])
    kl_row0 = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)  # KL(q ‖ p) = 0.1308
    expected = kl_row0 / 4  # summed over the rows, averaged over the 4 elements
    torch.testing.assert_close(row_softmax_kl(student, teacher), torch.tensor(expected))
    with warnings.catch_warnings():  # the script's own call (reduction "mean" warns)
        warnings.simplefilter("ignore")
        script = F.kl_div(F.log_softmax(student, dim=-1), F.softmax(teacher, dim=-1))
    torch.testing.assert_close(row_softmax_kl(student, teacher), script)
    assert float(row_softmax_kl(teacher, teacher)) == pytest.approx(0.0, abs=1e-7)


def test_mse_difference_and_shape_error():
    a, b = torch.zeros(1, 1, 2, 2), torch.tensor([[[[1.0, -1.0], [2.0, 0.0]]]])
    torch.testing.assert_close(distribution_difference(a, b, "mse"), torch.tensor(6.0 / 4))
    torch.testing.assert_close(distribution_difference(a, b, "kl"), row_softmax_kl(a, b))
    with pytest.raises(ValueError, match="one shape"):
        distribution_difference(a, b[..., :1])


def test_dafl_priors_on_the_student_by_hand():
    logits = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]])  # p = (3/4, 1/4), (1/2, 1/2)
    features = torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    terms = dafl_priors(logits, features)
    # CE to the own argmax (class 0 for both, the tie to the first)
    assert float(terms["onehot"]) == pytest.approx((-math.log(0.75) - math.log(0.5)) / 2)
    p = (5 / 8, 3 / 8)  # batch-mean softmax
    assert float(terms["balance"]) == pytest.approx(sum(x * math.log10(x) for x in p))
    assert float(terms["activation"]) == pytest.approx(-6.0 / 4)


@pytest.mark.parametrize("pairing", ["independent", "shared"])
def test_generator_loss_replayed_from_its_latents(pairing):
    """L = L_Gt(teacher priors on G_t) + L_Gs(student priors on G_s) + λ_d·D(G_s, G_t), each
    recomputed from the same random draws; the student's batch is G_s's batch."""
    o = {"onehot": 0.5, "balance": 2.0, "activation": 0.3, "difference": 4.0,
         "pairing": pairing}
    m, teacher, student, g_t = build(o)
    g_s = m.student_generator
    torch.manual_seed(7)
    terms = m.generator_loss(0)
    torch.manual_seed(7)
    with torch.no_grad():
        x_t, x_s = g_t(torch.randn(B, NZ)), g_s(torch.randn(B, NZ))
        z = torch.randn(B, NZ)
        z_target = z if pairing == "shared" else torch.randn(B, NZ)
        d = row_softmax_kl(g_s(z), g_t(z_target))
        with FeatureRecorder(teacher, {"f": "fc"}, inputs=True) as rec:
            t_side = dafl_priors(teacher(x_t), rec["f"])
        with FeatureRecorder(student, {"f": "fc"}, inputs=True) as rec:
            s_side = dafl_priors(student(x_s), rec["f"])
    for k in ("onehot", "balance", "activation"):
        torch.testing.assert_close(terms[f"teacher_{k}"], t_side[k])
        torch.testing.assert_close(terms[f"student_{k}"], s_side[k])
    torch.testing.assert_close(terms["difference"], d)
    weigh = {k: o[k] for k in ("onehot", "balance", "activation")}
    expected = sum(weigh[k] * (t_side[k] + s_side[k]) for k in weigh) + 4.0 * d
    torch.testing.assert_close(terms["loss"], expected)
    images, teacher_logits, _ = m.student_inputs(0)  # the student learns from G_s's batch
    torch.testing.assert_close(images, x_s)
    torch.testing.assert_close(teacher_logits, teacher(x_s))


# -- who moves ------------------------------------------------------------------------------
def test_each_term_reaches_its_own_generator_only():
    m, teacher, student, g_t = build()
    g_s = m.student_generator
    terms = m.generator_loss(0)

    def reached(term, module):
        grads = torch.autograd.grad(terms[term], list(module.parameters()), retain_graph=True,
                                    allow_unused=True)
        return any(gr is not None and gr.abs().sum() > 0 for gr in grads)

    for term in ("teacher_onehot", "teacher_balance", "teacher_activation"):
        assert reached(term, g_t) and not reached(term, g_s), term
    for term in ("student_onehot", "student_activation", "difference"):
        assert reached(term, g_s) and not reached(term, g_t), term
    assert not any(p.requires_grad for p in teacher.parameters())


def test_generator_phase_moves_both_generators_and_student_phase_the_student_only(tmp_path):
    m, teacher, student, g_t = build()
    g_s = m.student_generator
    assert not same(snapshot(g_t), snapshot(g_s))  # G_s is a fresh draw of G_t's architecture
    s_player = Player("student", student, torch.optim.Adam(student.parameters(), lr=1e-2))
    g_player = Player("generator", g_t, torch.optim.Adam(
        [*g_t.parameters(), *g_s.parameters()], lr=1e-2),
        aux=torch.nn.ModuleDict({"method": g_s}))
    loop = AdversarialLoop(m, s_player, g_player, 1, tmp_path)
    weights = lambda mod: {k: v.clone() for k, v in mod.named_parameters()}  # noqa: E731
    s0, t0, g0 = weights(student), weights(g_t), weights(g_s)
    losses = loop._phase(g_player, m.adversary_loss, 0)
    assert same(weights(student), s0)
    assert not same(weights(g_t), t0) and not same(weights(g_s), g0)
    assert {"generator/difference", "generator/student_onehot"} <= set(losses)
    t1, g1 = weights(g_t), weights(g_s)
    losses = loop._phase(s_player, m.student_loss, 0)
    assert same(weights(g_t), t1) and same(weights(g_s), g1)
    assert not same(weights(student), s0) and "student/kd" in losses


# -- configuration --------------------------------------------------------------------------
@pytest.mark.parametrize("options, match", [
    ({"difference_kind": "js"}, r"options.difference_kind must be one of kl, mse, got 'js'"),
    ({"pairing": "same"}, r"options.pairing must be one of independent, shared"),
])
def test_bad_options_are_one_error_naming_the_key(options, match):
    with pytest.raises(ConfigError, match=match):
        build(options)


def test_pixel_generator_is_refused():
    with pytest.raises(ConfigError, match="two generator networks: set generator.model"):
        build(generator="pixels")


@pytest.mark.parametrize("name", ["fashion_mnist", "mnist", "cifar10", "cifar100",
                                  "cifar10_wrn", "cifar100_wrn"])
def test_configs_load_and_say_what_is_reconstructed(name):
    path = CONFIG_DIR / "dual_generator" / f"{name}.yaml"
    cfg = build_config(DFKDConfig(), [path])
    options = read_options(DualGeneratorOptions, cfg.options, "dual_generator")
    if name in ("mnist", "fashion_mnist"):  # the MNIST script's recipe
        assert (cfg.train.batch_size, cfg.student.optim.lr) == (256, 2e-3)
    if name == "fashion_mnist":  # the CIFAR script's D, the MNIST one's failure stated
        assert options.difference_kind == "mse" and options.pairing == "shared"
        assert "the student stayed at 10.0" in path.read_text()
    else:
        assert "[reconstructed]" in path.read_text()
    if name == "mnist":
        assert options.difference_kind == "kl" and options.pairing == "independent"


# -- exact resume -----------------------------------------------------------------------------
def test_resume_equals_straight_run_both_generators_and_student(teacher, fake_data_root,
                                                                 tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    extra = ["--set", "train.eval_every=4", "--set", "train.image_every=0"]
    train_dfkd(dfkd_args("dual_generator", teacher, fake_data_root, straight, 3) + extra)
    train_dfkd(dfkd_args("dual_generator", teacher, fake_data_root, split, 1) + extra)
    train_dfkd(dfkd_args("dual_generator", teacher, fake_data_root, split, 3) + extra
               + ["--resume"])
    a = torch.load(straight / "latest.pt", weights_only=True)["players"]
    b = torch.load(split / "latest.pt", weights_only=True)["players"]
    g_s = a["generator"]["aux"]
    assert g_s and all(k.startswith("method.") for k in g_s)  # G_s is checkpointed
    for player, part in (("student", "model"), ("generator", "model"), ("generator", "aux")):
        for key, value in a[player][part].items():
            assert torch.equal(value, b[player][part][key]), (player, part, key)
    moments = a["generator"]["optimizer"]["state"]  # Adam's moments of G_t and G_s, resumed
    assert len(moments) == 2 * len(list(build_generator("dafl", 8, 4, 32, 1).parameters()))
    for i, state in moments.items():
        assert torch.equal(state["exp_avg"], b["generator"]["optimizer"]["state"][i]["exp_avg"])


# -- the benchmark's line -------------------------------------------------------------------
def test_benchmark_compares_dual_generator_with_dafl(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "OUT", tmp_path)
    rows = [make_row("dafl", "dafl", 70.0), make_row("dual_generator", "dual_generator", 72.5,
                                                     iters=600)]
    report.write_report({"machine": "test", "date": "2026-11-28", "methods": rows})
    md = (tmp_path / "results.md").read_text()
    assert ("dual-generator >= DAFL: yes (72.50 vs 70.00; budgets differ: 600 vs 1000 "
            "iterations)") in md
    assert "MAD >= DFAD" not in md

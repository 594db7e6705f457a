"""Fast-DFKD (methods/fast_dfkd.py): the meta step by hand, the surrogate outer loss, the
momentum BN prior by hand, warm-up without student steps, and exact resume."""
from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import TinyClassifier, make_method
from test_cli import dfkd_args

import dfkd.discriminator_distillation.methods  # noqa: F401  (registers fast_dfkd)
from dfkd.core.errors import ConfigError
from dfkd.data.specs import DatasetSpec
from dfkd.discriminator_distillation.meta import (
    reptile_gradient,
    reptile_update,
    sum_of_gradients,
    surrogate_loss,
)
from dfkd.discriminator_distillation.replay import ReplayBuffer
from dfkd.discriminator_distillation.train import main as train_dfkd
from dfkd.engine import AdversarialLoop, Player
from dfkd.losses import BNStatisticsPrior, bn_statistics_loss
from dfkd.losses.agreement import agreement_masked_kl
from dfkd.nets import build_model, save_weights
from generators import build_generator

SPEC = DatasetSpec("tiny", 1, 8, 10, (0.0,), (1.0,))
B, NZ = 8, 4


def build(options=None, **setup):
    torch.manual_seed(0)
    teacher, student = TinyClassifier(width=6).eval(), TinyClassifier(width=3)
    with torch.no_grad():  # stored statistics unlike a fresh layer's
        teacher.bn.running_mean.uniform_(-1, 1)
        teacher.bn.running_var.uniform_(0.5, 2)
    generator = build_generator("dfad", nz=NZ, ngf=2, img_size=8, channels=1)
    options = {"warmup_rounds": 0, **(options or {})}
    setup = {"replay": ReplayBuffer(64), **setup}
    method = make_method("fast_dfkd", teacher, student, generator, SPEC, options, nz=NZ,
                         batch_size=B, **setup)
    return method, teacher, student, generator


# -- the meta step: pure helpers ----------------------------------------------------------
def test_outer_gradient_is_the_sum_of_the_inner_gradients_by_hand():
    """k inner SGD steps (rate η) on L(W) = ½‖W − A‖² from W: the inner gradients are
    (1 − η)^i (W − A); first-order MAML's outer gradient is their sum."""
    torch.manual_seed(0)
    layer = nn.Linear(3, 2, bias=False)
    target = torch.randn(2, 3)
    w0, eta, k = layer.weight.detach().clone(), 0.25, 3
    fast = nn.Linear(3, 2, bias=False)
    fast.load_state_dict(layer.state_dict())
    inner = torch.optim.SGD(fast.parameters(), lr=eta)
    per_step = []
    for _ in range(k):
        inner.zero_grad()
        (0.5 * (fast.weight - target).pow(2).sum()).backward()
        per_step.append([fast.weight.grad.clone()])
        inner.step()
    by_hand = sum((1 - eta) ** i for i in range(k)) * (w0 - target)
    (outer,) = sum_of_gradients(per_step)
    torch.testing.assert_close(outer, by_hand)
    # the outer optimizer (plain SGD, rate β) on the surrogate steps θ ← θ − β Σ g_i
    meta = torch.optim.SGD(layer.parameters(), lr=0.1)
    meta.zero_grad()
    surrogate_loss(list(layer.parameters()), [outer]).backward()
    meta.step()
    torch.testing.assert_close(layer.weight.detach(), w0 - 0.1 * by_hand)
    with pytest.raises(ValueError, match="same parameters"):
        sum_of_gradients([[outer], [outer, outer]])


def test_reptile_gradient_and_update_by_hand():
    meta, adapted = [torch.tensor([1.0, 2.0])], [torch.tensor([3.0, -2.0])]
    (g,) = reptile_gradient(meta, adapted, scale=67.0)
    assert torch.equal(g, torch.tensor([-134.0, 268.0]))  # 67·(θ − θ′)
    (new,) = reptile_update(meta, adapted, epsilon=0.25)
    assert torch.equal(new, torch.tensor([1.5, 1.0]))  # θ + ¼(θ′ − θ)
    # plain SGD at rate ε/s on Reptile's gradient is Reptile's update
    p = nn.Parameter(meta[0].clone())
    sgd = torch.optim.SGD([p], lr=0.25 / 67.0)
    p.grad = g
    sgd.step()
    torch.testing.assert_close(p.detach(), new)


def test_surrogate_gradient_equals_the_outer_gradient():
    torch.manual_seed(0)
    params = [nn.Parameter(torch.randn(3, 2)), nn.Parameter(torch.randn(4))]
    grads = [torch.randn(3, 2), torch.randn(4)]
    loss = surrogate_loss(params, grads)
    assert loss.item() == pytest.approx(sum((p * g).sum().item() for p, g in zip(params, grads)))
    loss.backward()
    for p, g in zip(params, grads):
        assert torch.equal(p.grad, g)


def test_adversarial_term_is_the_agreement_masked_kl_by_hand():
    student = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]])
    teacher = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])  # agree, disagree, tie→0

    def kl(t, s):
        p, q = F.softmax(t, 0), F.softmax(s, 0)
        return float((p * (p.log() - q.log())).sum())

    by_hand = (kl(teacher[0], student[0]) + kl(teacher[2], student[2])) / 3
    assert agreement_masked_kl(student, teacher).item() == pytest.approx(by_hand, rel=1e-6)


# -- the momentum BN loss -----------------------------------------------------------------
def test_momentum_bn_prior_blends_past_batch_statistics_by_hand():
    layer = nn.BatchNorm2d(2).eval()
    layer.running_mean.copy_(torch.tensor([0.5, -1.0]))
    layer.running_var.copy_(torch.tensor([2.0, 3.0]))
    prior = BNStatisticsPrior(layer, momentum=0.9)
    x1 = torch.tensor([[1.0, 0.0], [3.0, 0.0]]).view(2, 2, 1, 1)  # μ (2, 0), σ² (1, 0)
    x2 = torch.tensor([[0.0, 2.0], [0.0, 2.0]]).view(2, 2, 1, 1)  # μ (0, 2), σ² (0, 0)

    def round_loss(x):
        with prior:
            layer(x)
        loss = prior.loss().item()
        prior.update_momentum()
        return loss

    # round 1: no past yet, the batch's own statistics
    assert round_loss(x1) == pytest.approx(math.sqrt(1.5**2 + 1) + math.sqrt(1 + 9))
    # round 2: μ = 0.1·(0, 2) + 0.9·(2, 0) = (1.8, 0.2), σ² = 0.9·(1, 0) = (0.9, 0)
    assert round_loss(x2) == pytest.approx(math.sqrt(1.3**2 + 1.2**2)
                                           + math.sqrt(1.1**2 + 9))
    # the running average is now 0.9·(2, 0) + 0.1·(0, 2) = (1.8, 0.2), σ² (0.9, 0)
    torch.testing.assert_close(prior.past[0][0], torch.tensor([1.8, 0.2]))
    torch.testing.assert_close(prior.past[0][1], torch.tensor([0.9, 0.0]))
    # round 3 on x2: μ = 0.1·(0, 2) + 0.9·(1.8, 0.2) = (1.62, 0.38), σ² = (0.81, 0)
    expected = math.sqrt(1.12**2 + 1.38**2) + math.sqrt(1.19**2 + 9)
    saved = prior.state_dict()
    assert round_loss(x2) == pytest.approx(expected)
    resumed = BNStatisticsPrior(layer, momentum=0.9)
    resumed.load_state_dict(saved)
    with resumed:
        layer(x2)
    assert resumed.loss().item() == pytest.approx(expected)
    # the pure per-layer function agrees
    direct = bn_statistics_loss(x2, layer.running_mean, layer.running_var,
                                past=(torch.tensor([1.8, 0.2]), torch.tensor([0.9, 0.0])),
                                momentum=0.9)
    assert direct.item() == pytest.approx(expected)


# -- the method: one round, its outer gradient, the player's outer step --------------------
def reference_round(method, generator, teacher, k):
    """The round written out: a copy of G, fresh z and y, k Adam steps (β 0.5/0.999) on
    λ_bn·L_bn + λ_oh·CE (first round: no BN past; warm-up: no adversarial term); returns
    the inner gradients of G's parameters, step by step."""
    o = method.options
    fast = copy.deepcopy(generator).train()  # (building one would draw from the RNG)
    z = torch.randn(B, NZ, requires_grad=True)
    y = torch.randint(10, (B,))
    inner = torch.optim.Adam([{"params": fast.parameters()},
                              {"params": [z], "lr": o.latent_lr}],
                             lr=o.inner_lr, betas=(0.5, 0.999))
    per_step = []
    for _ in range(k):
        views = method.views(fast(z))
        bn = bn_statistics_loss(teacher.conv(views), teacher.bn.running_mean,
                                teacher.bn.running_var)
        loss = o.bn * bn + o.onehot * F.cross_entropy(teacher(views), y)
        inner.zero_grad()
        loss.backward()
        per_step.append([p.grad.clone() for p in fast.parameters()])
        inner.step()
    return per_step


@pytest.mark.parametrize("k", [1, 3])
def test_a_round_keeps_the_sum_of_its_inner_gradients_and_the_player_steps_on_it(k):
    method, teacher, _, generator = build({"inner_steps": k, "warmup_rounds": 1})
    theta = [p.detach().clone() for p in generator.parameters()]
    torch.manual_seed(1)
    method.begin_iteration(0)
    torch.manual_seed(1)
    per_step = reference_round(method, generator, teacher, k)
    for got, step_sum in zip(method._outer, [sum(g) for g in zip(*per_step)]):
        torch.testing.assert_close(got, step_sum, rtol=1e-4, atol=1e-5)
    assert len(method.replay) == B  # the round's batch joined the memory
    for p, p0 in zip(generator.parameters(), theta):  # synthesis leaves θ alone
        assert torch.equal(p, p0)
    # the surrogate's gradient is g, so the player's Adam takes the outer step on g
    outer = [g.clone() for g in method._outer]
    twin = build_generator("dfad", nz=NZ, ngf=2, img_size=8, channels=1)
    twin.load_state_dict(generator.state_dict())
    adam = torch.optim.Adam(generator.parameters(), lr=0.02, betas=(0.5, 0.999))
    loss = method.adversary_loss(0)["loss"]
    adam.zero_grad()
    loss.backward()
    for p, g in zip(generator.parameters(), outer):
        assert torch.equal(p.grad, g)
    adam.step()
    by_hand = torch.optim.Adam(twin.parameters(), lr=0.02, betas=(0.5, 0.999))
    for p, g in zip(twin.parameters(), outer):
        p.grad = g.clone()
    by_hand.step()
    for p, q in zip(generator.parameters(), twin.parameters()):
        assert torch.equal(p, q)
    assert any(not torch.equal(p, p0) for p, p0 in zip(generator.parameters(), theta))


def test_reptile_round_gives_the_direction_back_from_the_adapted_copy():
    """k = 1: θ′ = θ − lr·g₀/(|g₀| + ε) (Adam's first step), so s·(θ − θ′) = s·lr·sign(g₀)."""
    method, teacher, _, generator = build({"inner_steps": 1, "warmup_rounds": 1,
                                           "meta_gradient": "reptile", "reptile_scale": 67.0})
    torch.manual_seed(1)
    method.begin_iteration(0)
    torch.manual_seed(1)
    (g0,) = reference_round(method, generator, teacher, 1)
    lr = method.options.inner_lr
    for got, g in zip(method._outer, g0):
        clear = g.abs() > 1e-3  # a float-noise gradient (a bias before a BN) has no sign
        torch.testing.assert_close(got[clear], 67.0 * lr * g[clear].sign(), rtol=1e-3,
                                   atol=1e-5)
        assert (got.abs() <= 67.0 * lr * (1 + 1e-3)).all()


def test_momentum_statistics_update_once_per_round():
    method, *_ = build({"inner_steps": 2})
    calls = []
    update = method.prior.update_momentum
    method.prior.update_momentum = lambda: (calls.append(1), update())[1]
    assert all(p is None for p in method.prior.past)
    for it in range(2):
        method.begin_iteration(it)
        method.adversary_loss(it)
    assert len(calls) == 2 and all(p is not None for p in method.prior.past)


def test_warm_up_rounds_take_no_student_step(tmp_path):
    """The loop backpropagates the warm-up loss, yet SGD with momentum and weight decay
    leaves every weight and buffer as it was; the meta-generator still takes its step."""
    method, _, student, generator = build({"inner_steps": 1, "warmup_rounds": 1},
                                          augment=None)
    sgd = torch.optim.SGD(student.parameters(), lr=0.2, momentum=0.9, weight_decay=1e-4)
    players = (Player("student", student, sgd, steps=3),
               Player("generator", generator, torch.optim.Adam(generator.parameters(), 0.02)))
    loop = AdversarialLoop(method, *players, total_iters=2, out_dir=tmp_path)
    before = {k: v.clone() for k, v in student.state_dict().items()}
    g_before = [p.detach().clone() for p in generator.parameters()]
    losses = loop.step(0)
    assert losses["student/warmup"] == 1 and "synthesis/adversarial" not in losses
    for key, value in student.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert not sgd.state  # no momentum buffer was even created
    assert any(not torch.equal(p, q) for p, q in zip(generator.parameters(), g_before))
    losses = loop.step(1)
    assert "student/kd" in losses and "synthesis/adversarial" in losses
    assert any(not torch.equal(v, before[k]) for k, v in student.state_dict().items())


def test_bad_settings_are_one_clear_error():
    method, *_ = build({"inner_steps": 1})
    method.begin_iteration(0)  # generator.steps: 0 never takes the outer step
    with pytest.raises(ConfigError, match="set generator.steps: 1"):
        method.begin_iteration(1)
    method, *_ = build({"inner_steps": 1})
    method.begin_iteration(0)
    method.adversary_loss(0)
    with pytest.raises(ConfigError, match="set generator.steps: 1"):  # a second outer step
        method.adversary_loss(0)
    with pytest.raises(ConfigError, match="generator.bn_weight: 0"):
        build(bn_weight=1.0)
    with pytest.raises(ConfigError, match="meta_gradient must be one of fomaml, reptile"):
        build({"meta_gradient": "maml2"})
    g = build_generator("dfad", nz=NZ, ngf=2, img_size=32, channels=1)
    with pytest.raises(ConfigError, match="BatchNorm layers.*lenet5_bn"):
        make_method("fast_dfkd", build_model("lenet5", 1), build_model("lenet5_half", 1), g,
                    SPEC, {}, nz=NZ, batch_size=B, replay=ReplayBuffer(8))


def test_first_layer_is_reset_at_its_round():
    method, _, _, generator = build({"inner_steps": 1, "reset_round": 2})
    method.begin_iteration(0)
    method.adversary_loss(0)
    weight = generator.l1[0].weight.detach().clone()
    method.begin_iteration(1)  # round 2 (1-based), as the code's counter
    assert not torch.equal(generator.l1[0].weight, weight)
    assert torch.equal(generator.l1[0].bias, torch.zeros_like(generator.l1[0].bias))
    assert generator.l1[0].weight.std().item() == pytest.approx(0.02, rel=0.5)


# -- exact resume through train_dfkd ------------------------------------------------------
@pytest.fixture(scope="module")
def bn_teacher(tmp_path_factory):
    """A LeNet-5-BN teacher (untrained weights, stored BN statistics set) for train_dfkd."""
    torch.manual_seed(0)
    model = build_model("lenet5_bn", 1, 10)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("bn_teacher") / "lenet5_bn.pt"
    save_weights(model, path, {"arch": "lenet5_bn", "dataset": "fashion_mnist",
                               "test_acc": 10.0})
    return path


def test_resume_equals_straight_run(bn_teacher, fake_data_root, tmp_path):
    """Meta-generator, outer Adam, momentum statistics, memory and student: a run of 4
    rounds equals 2 rounds resumed to 4 (warm-up and the layer reset on either side)."""
    extra = ["--teacher", "lenet5_bn", "--student", "lenet5_half",
             "--set", "student.steps=2", "--set", "student.schedule.horizon=4",
             "--set", "options.inner_steps=2", "--set", "options.warmup_rounds=1",
             "--set", "options.reset_round=4", "--set", "replay.capacity=24",
             "--set", "train.image_every=0", "--set", "train.eval_every=4", "--batch-size", "8",
             # one thread: tiny ops on a shared, loaded machine stall on two threads' barriers
             "--set", "train.threads=1"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    threads = torch.get_num_threads()
    try:
        train_dfkd(dfkd_args("fast_dfkd", bn_teacher, fake_data_root, straight, 4) + extra)
        train_dfkd(dfkd_args("fast_dfkd", bn_teacher, fake_data_root, split, 2) + extra)
        half = torch.load(split / "latest.pt", weights_only=True)
        train_dfkd(dfkd_args("fast_dfkd", bn_teacher, fake_data_root, split, 4) + extra
                   + ["--resume"])
    finally:
        torch.set_num_threads(threads)
    a = torch.load(straight / "latest.pt", weights_only=True)
    b = torch.load(split / "latest.pt", weights_only=True)
    assert b["iteration"] == 4 and half["iteration"] == 2
    assert half["method"]["bn_momentum"]["past"][0] is not None  # resumed mid-average
    for player in ("student", "generator"):
        for key, value in a["players"][player]["model"].items():
            assert torch.equal(value, b["players"][player]["model"][key]), (player, key)
    outer_a, outer_b = (s["players"]["generator"]["optimizer"]["state"] for s in (a, b))
    assert outer_a.keys() == outer_b.keys() and len(outer_a) > 0
    for i, state in outer_a.items():
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(state[key], outer_b[i][key]), (i, key)
    for past_a, past_b in zip(a["method"]["bn_momentum"]["past"],
                              b["method"]["bn_momentum"]["past"]):
        assert all(torch.equal(x, y) for x, y in zip(past_a, past_b))
    assert b["method"]["replay"]["size"] == 24  # 4 rounds of 8 samples, capacity 24
    assert torch.equal(a["method"]["replay"]["images"], b["method"]["replay"]["images"])

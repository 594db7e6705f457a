"""DeepInversion / Adaptive DeepInversion: the image priors and JS divergence against
hand-computed values, one synthesis round, the pixel 'generator', exact resume through
``train_dfkd``, and the errors for a teacher without BatchNorm or a generator network."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import TinyClassifier, assert_same_tensors, make_method, straight_and_resumed

import dfkd.discriminator_distillation.methods  # noqa: F401  (registers the methods)
from dfkd.core.errors import ConfigError
from dfkd.data.specs import DatasetSpec
from dfkd.discriminator_distillation.methods.deepinversion import jitter, random_jitter
from dfkd.discriminator_distillation.replay import ReplayBuffer
from dfkd.discriminator_distillation.train import main as train_dfkd
from dfkd.losses.inversion_priors import (
    image_l2,
    js_divergence,
    total_variation,
    total_variation_l1,
)
from generators import build_generator

SPEC = DatasetSpec("tiny", 1, 8, 10, (0.0,), (1.0,))
B = 20
# the 2x2 image [[0, 1], [2, 3]]: differences right -1, -1; down -2, -2; anti-diagonal
# (x[1,0] - x[0,1]) = 1; diagonal (x[0,0] - x[1,1]) = -3
SQUARE = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])


# -- the pure terms ------------------------------------------------------------------------
def test_total_variation_is_the_sum_of_four_directional_norms():
    torch.testing.assert_close(total_variation(SQUARE),
                               torch.tensor(math.sqrt(2) + math.sqrt(8) + 1.0 + 3.0))
    # norms over the whole batch: a second, constant image adds nothing
    batch = torch.cat([SQUARE, torch.full_like(SQUARE, 7.0)])
    torch.testing.assert_close(total_variation(batch), total_variation(SQUARE))
    # a second copy of the image: each direction's norm grows by sqrt(2), not 2
    torch.testing.assert_close(total_variation(torch.cat([SQUARE, SQUARE])),
                               math.sqrt(2) * total_variation(SQUARE))


def test_total_variation_l1_is_the_sum_of_mean_absolute_differences():
    torch.testing.assert_close(total_variation_l1(SQUARE), torch.tensor(1.0 + 2.0 + 1.0 + 3.0))


def test_image_l2_is_the_norm_of_the_whole_batch_not_squared():
    torch.testing.assert_close(image_l2(SQUARE), torch.tensor(math.sqrt(14.0)))
    torch.testing.assert_close(image_l2(torch.cat([SQUARE, SQUARE])), torch.tensor(math.sqrt(28.0)))


def test_js_divergence_by_hand_in_the_papers_direction():
    p, q = (0.5, 0.5), (0.9, 0.1)
    a, b = torch.tensor([[math.log(x) for x in p]]), torch.tensor([[math.log(x) for x in q]])
    m = (0.7, 0.3)
    kl_pm = 0.5 * math.log(0.5 / 0.7) + 0.5 * math.log(0.5 / 0.3)
    kl_qm = 0.9 * math.log(0.9 / 0.7) + 0.1 * math.log(0.1 / 0.3)
    expected = 0.5 * (kl_pm + kl_qm)  # ≈ 0.10175
    torch.testing.assert_close(js_divergence(a, b), torch.tensor(expected))
    torch.testing.assert_close(js_divergence(b, a), torch.tensor(expected))  # symmetric
    # not NVlabs' swapped form ½KL(M ‖ p) + ½KL(M ‖ q) (≈ 0.11797)
    swapped = 0.5 * sum(mi * math.log(mi / pi) for mi, pi in zip(m, p)) + \
        0.5 * sum(mi * math.log(mi / qi) for mi, qi in zip(m, q))
    assert abs(float(js_divergence(a, b)) - swapped) > 0.01
    # the temperature divides the logits; equal distributions: 0; disjoint ones: ln 2
    torch.testing.assert_close(js_divergence(3 * a, 3 * b, temperature=3.0),
                               torch.tensor(expected))
    torch.testing.assert_close(js_divergence(a, a), torch.tensor(0.0))
    far = torch.tensor([[60.0, 0.0]]), torch.tensor([[0.0, 60.0]])
    torch.testing.assert_close(js_divergence(*far), torch.tensor(math.log(2)))
    # batch mean of per-sample values
    torch.testing.assert_close(js_divergence(torch.cat([a, a]), torch.cat([b, a])),
                               torch.tensor(expected / 2))


def test_jitter_rolls_and_flips_and_keeps_the_shape():
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float).view(2, 3, 4, 5)
    assert torch.equal(jitter(x, 1, -2, False), torch.roll(x, shifts=(1, -2), dims=(2, 3)))
    assert torch.equal(jitter(x, 0, 0, True), x.flip(3))
    assert torch.equal(jitter(x, 0, 0, False), x)
    assert torch.equal(random_jitter(x, 0, 0.0), x)  # no shift, no flip: the batch itself
    assert torch.equal(random_jitter(x, 0, 1.0), x.flip(3))  # flip probability 1
    hot = torch.zeros(1, 1, 9, 9)
    hot[0, 0, 4, 4] = 1.0
    torch.manual_seed(0)
    for _ in range(20):
        y = random_jitter(hot, 2, 0.5)
        assert y.shape == hot.shape and float(y.sum()) == 1.0
        row, col = divmod(int(y.flatten().argmax()), 9)
        assert abs(row - 4) <= 2 and (abs(col - 4) <= 2)  # a flip mirrors column 4 to 4


# -- the method ---------------------------------------------------------------------------
def build(options=None, teacher=None, generator="pixels", **setup):
    torch.manual_seed(0)
    teacher = (teacher or TinyClassifier(width=6)).eval()
    student = TinyClassifier(width=3)
    g = build_generator(generator, nz=8, ngf=4, img_size=8, channels=1, num_classes=10)
    setup.setdefault("replay", ReplayBuffer(4 * B))
    m = make_method("deepinversion", teacher, student, g, SPEC, options, nz=8, batch_size=B,
                    **setup)
    return m, teacher, student, g


def test_objective_terms_by_hand():
    weights = {"tv": 0.01, "l2": 0.02, "bn": 3.0, "competition": 5.0, "js_temperature": 2.0,
               "jitter": 0, "flip": 0.0}
    m, teacher, student, _ = build(weights)
    torch.manual_seed(1)
    x = torch.randn(B, 1, 8, 8)
    y = torch.arange(B) % 10
    terms = m.objective(x, y)
    t, s = teacher(x), student(x)
    features = teacher.conv(x)  # TinyClassifier's one BatchNorm input
    mean, var = features.mean((0, 2, 3)), features.var((0, 2, 3), unbiased=False)
    bn = (mean - teacher.bn.running_mean).norm() + (var - teacher.bn.running_var).norm()
    p_t, p_s = F.softmax(t / 2, 1), F.softmax(s / 2, 1)
    mix = (p_t + p_s) / 2
    js = (0.5 * (p_t * (p_t / mix).log()).sum(1) + 0.5 * (p_s * (p_s / mix).log()).sum(1)).mean()
    expected = (F.cross_entropy(t, y) + 0.01 * total_variation(x) + 0.02 * x.norm()
                + 3.0 * bn + 5.0 * (1 - js))
    torch.testing.assert_close(terms["feature"], bn)
    torch.testing.assert_close(terms["js"], js)
    torch.testing.assert_close(terms["loss"], expected)


def test_one_round_lowers_its_objective_and_fills_the_memory():
    m, teacher, student, g = build({"inner_steps": 15, "lr": 0.1, "competition": 1.0})
    student_before = {k: v.clone() for k, v in student.state_dict().items()}
    g.requires_grad_(False)  # as the loop leaves a player that does not step
    logged = m.begin_iteration(0)
    assert float(logged["synthesis/loss"]) < 0.8 * float(logged["synthesis/first_loss"])
    assert len(m.replay) == B
    assert torch.equal(m.replay.images[:B], g.pixels.detach())  # the grids show this batch
    torch.testing.assert_close(m.replay.logits[:B], teacher(g.pixels).detach())
    # the student stays fixed during synthesis: weights, BN statistics, mode, gradients
    assert all(torch.equal(v, student.state_dict()[k]) for k, v in student_before.items())
    assert student.training and all(p.grad is None and p.requires_grad
                                    for p in student.parameters())
    assert not g.pixels.requires_grad  # back to what the loop had set
    assert m.begin_iteration(0) == {} and len(m.replay) == B  # once per iteration
    m.begin_iteration(1)
    assert len(m.replay) == 2 * B
    assert not torch.equal(m.replay.images[:B], m.replay.images[B:2 * B])  # a fresh batch


def test_student_learns_kd_on_memory_batches():
    m, teacher, student, _ = build({"inner_steps": 1, "temperature": 4.0})
    m.begin_iteration(0)
    torch.manual_seed(5)
    terms = m.student_loss(0)
    torch.manual_seed(5)
    images, logits = m.replay.sample(B)
    p_t = F.softmax(logits / 4, 1)
    kl = (p_t * (p_t.log() - F.log_softmax(student(images) / 4, 1))).sum(1).mean() * 16
    torch.testing.assert_close(terms["loss"], kl)


def test_pixel_generator_returns_the_batch_and_loads_any_batch_size():
    g = build_generator("pixels", nz=8, ngf=4, img_size=8, channels=1)
    g.reset(3)
    out = g(torch.zeros(7, 8))
    assert out.shape == (7, 1, 8, 8)
    assert torch.equal(out[:3], g.pixels) and torch.equal(out[3:6], g.pixels)  # cycling
    fresh = build_generator("pixels", nz=8, ngf=4, img_size=8, channels=1)
    assert fresh.pixels.shape == (1, 1, 8, 8)
    fresh.load_state_dict(g.state_dict())
    assert torch.equal(fresh.pixels, g.pixels)


def test_teacher_without_batchnorm_is_one_clear_error():
    no_bn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.LazyLinear(10))
    no_bn(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ConfigError, match=r"^deepinversion .*has no BatchNorm layers: use a "
                                          r"teacher with BatchNorm"):
        build(teacher=no_bn)
    build({"bn": 0.0}, teacher=no_bn)  # without R_feature the statistics are not needed


def test_a_generator_network_or_the_shared_bn_prior_is_refused():
    with pytest.raises(ConfigError, match="set generator.model: pixels"):
        build(generator="dafl")
    with pytest.raises(ConfigError, match="set generator.bn_weight: 0"):
        build(bn_weight=1.0)
    with pytest.raises(ConfigError, match=r"'options.flip' must be in \[0, 1\], got 2.0"):
        build({"flip": 2.0})
    with pytest.raises(ConfigError, match="set replay.capacity"):
        build(replay=None)


# -- end to end (bn_teacher: conftest's one-epoch lenet5_bn) -------------------------------
def run_args(teacher, data_root, out, iters):
    return ["--method", "deepinversion", "--teacher-ckpt", str(teacher),
            "--data-root", str(data_root), "--out", str(out), "--iters", str(iters),
            "--batch-size", "12", "--set", "options.inner_steps=3",
            "--set", "student.steps=2", "--set", "replay.capacity=30",
            "--set", "train.eval_every=2", "--set", "train.image_every=2"]


def test_resume_equals_a_straight_run(bn_teacher, fake_data_root, tmp_path):
    a, b = straight_and_resumed(
        lambda out, n: run_args(bn_teacher, fake_data_root, out, n), tmp_path, 4, 2)
    assert b["method"]["replay"]["seen"] == 4 * 12
    ta = assert_same_tensors(a, b)  # weights, replay, bank, random state
    assert any("/method/bank/images" in k for k in ta)
    assert a["players"]["generator"]["model"]["pixels"].shape == (12, 1, 32, 32)


def test_cli_with_a_teacher_without_batchnorm_says_so(fake_data_root, tmp_path):
    from dfkd.nets import build_model, save_weights

    path = tmp_path / "lenet5.pt"
    save_weights(build_model("lenet5", 1), path, {"arch": "lenet5", "dataset": "fashion_mnist",
                                                  "test_acc": 10.0})
    with pytest.raises(ConfigError, match="has no BatchNorm layers"):
        train_dfkd(run_args(path, fake_data_root, tmp_path / "run", 1) + ["--teacher", "lenet5"])

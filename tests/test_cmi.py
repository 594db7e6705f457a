"""CMI (Contrastive Model Inversion): the InfoNCE and the agreement-masked adversarial KL
against hand-computed values, the two views, one synthesis round (memory, feature bank, the
lowest-loss batch kept, the persistent head), exact resume through ``train_dfkd`` (head,
its Adam and the bank included), and the errors for a teacher without BatchNorm."""
import math

import pytest
import torch
import torch.nn as nn
from conftest import TinyClassifier, assert_same_tensors, make_method, straight_and_resumed

import dfkd.discriminator_distillation.methods  # noqa: F401  (registers the methods)
from dfkd.core.errors import ConfigError
from dfkd.data.specs import DatasetSpec
from dfkd.discriminator_distillation.methods.cmi import (
    FeatureBank,
    contrast_layers,
    padded_crop,
    random_flip,
    reset_generator,
    resized_crop,
)
from dfkd.discriminator_distillation.replay import ReplayBuffer
from dfkd.discriminator_distillation.train import main as train_dfkd
from dfkd.losses.contrastive_inversion import agreement_adversarial_kl, instance_contrast
from generators import build_generator

SPEC = DatasetSpec("tiny", 1, 8, 10, (0.0,), (1.0,))
TINY = {"inner_steps": 3, "synthesis_batch": 8, "bank_size": 20, "negatives": 6,
        "head_dim": 5, "crop_padding": 2}


# -- the pure terms ------------------------------------------------------------------------
def test_instance_contrast_by_hand_with_bank_rows():
    local = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], requires_grad=True)
    global_ = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.8, 0.6]], requires_grad=True)
    # logits l_i·g_j / 0.5: row 0 [2, 0, 1.6], row 1 [0, 2, 1.2], row 2 [1.2, 1.6, 1.92]
    row0 = -2 + math.log(math.exp(2) + 1 + math.exp(1.6))
    row1 = -2 + math.log(1 + math.exp(2) + math.exp(1.2))
    row2 = -1.92 + math.log(math.exp(1.2) + math.exp(1.6) + math.exp(1.92))
    # two batch rows and one bank row: the two groups' means are added
    loss = instance_contrast(local, global_, 0.5, current=2)
    torch.testing.assert_close(loss, torch.tensor((row0 + row1) / 2 + row2))
    # no bank rows: one mean over all
    torch.testing.assert_close(instance_contrast(local, global_, 0.5),
                               torch.tensor((row0 + row1 + row2) / 3))
    loss.backward()  # the global side is detached: gradients reach the local branch only
    assert global_.grad is None and local.grad is not None and local.grad.abs().sum() > 0


def test_instance_contrast_rejects_bad_shapes_and_counts():
    x = torch.eye(3)
    with pytest.raises(ValueError, match="same shape"):
        instance_contrast(x, x[:2], 0.1)
    with pytest.raises(ValueError, match="current must count 1..3"):
        instance_contrast(x, x, 0.1, current=0)


def test_agreement_adversarial_kl_by_hand():
    # sample 1: S (1/10, 9/10) and T (1/3, 2/3) agree on class 1; sample 2: S says 0, T 1
    student = torch.tensor([[0.0, math.log(9)], [math.log(9), 0.0]])
    teacher = torch.tensor([[0.0, math.log(2)], [0.0, math.log(2)]])
    kl_1 = (1 / 3) * math.log((1 / 3) / 0.1) + (2 / 3) * math.log((2 / 3) / 0.9)  # ≈ 0.2013
    # the disagreeing sample counts as 0, and the mean is over both samples
    torch.testing.assert_close(agreement_adversarial_kl(student, teacher),
                               torch.tensor(-kl_1 / 2))
    # KL(p_T ‖ p_S), not KL(p_S ‖ p_T)
    reverse = 0.1 * math.log(0.1 / (1 / 3)) + 0.9 * math.log(0.9 / (2 / 3))  # ≈ 0.1497
    assert abs(float(agreement_adversarial_kl(student, teacher)) + reverse / 2) > 0.02
    # all disagree: nothing to push
    torch.testing.assert_close(agreement_adversarial_kl(student[1:], teacher[1:]),
                               torch.tensor(-0.0))


# -- the views -----------------------------------------------------------------------------
def test_global_and_local_views_keep_the_shape_and_carry_gradients():
    torch.manual_seed(0)
    x = torch.randn(6, 3, 8, 8, requires_grad=True)
    for view in (padded_crop(x, 2), resized_crop(x, 0.25), random_flip(x)):
        assert view.shape == x.shape
        assert torch.autograd.grad(view.sum(), x)[0].abs().sum() > 0
    assert torch.equal(padded_crop(x, 0), x)
    # a full-size square crop is the image itself (bilinear at the pixel centres)
    torch.testing.assert_close(resized_crop(x, 1.0, ratio=(1.0, 1.0)), x)


def test_global_crop_is_a_window_of_the_zero_padded_image():
    torch.manual_seed(1)
    x = torch.arange(2 * 16, dtype=torch.float).view(2, 1, 4, 4) + 1
    padded = nn.functional.pad(x, [2] * 4)
    windows = {(n, top, left): padded[n, :, top:top + 4, left:left + 4]
               for n in range(2) for top in range(5) for left in range(5)}
    for _ in range(10):
        crop = padded_crop(x, 2)
        for n in range(2):
            assert any(torch.equal(crop[n], w) for (m, _, _), w in windows.items() if m == n)


# -- the method ----------------------------------------------------------------------------
def build(options=None, teacher=None, **setup):
    torch.manual_seed(0)
    teacher = (teacher or TinyClassifier(width=6)).eval()
    student = TinyClassifier(width=3)
    g = build_generator("dfad", nz=8, ngf=4, img_size=8, channels=1, num_classes=10)
    setup.setdefault("replay", ReplayBuffer(64))
    m = make_method("cmi", teacher, student, g, SPEC, {**TINY, **(options or {})}, nz=8,
                    batch_size=4, **setup)
    return m, teacher, student, g


def test_one_round_fills_the_memory_and_the_bank_with_the_lowest_loss_batch():
    m, teacher, student, _ = build()
    steps = []
    inner = m.inversion_terms

    def recorded(z, targets):
        terms, images, features = inner(z, targets)
        steps.append((terms["loss"].item(), images.detach().clone(), features.detach().clone()))
        return terms, images, features

    m.inversion_terms = recorded
    student.train()
    logged = m.begin_iteration(0)
    assert {"synthesis/bn", "synthesis/onehot", "synthesis/adversarial", "synthesis/contrast",
            "synthesis/best_loss"} <= set(logged)
    assert len(steps) == 3 and len(m.replay) == 8 and len(m.feature_bank) == 8
    loss, images, features = min(steps, key=lambda s: s[0])
    assert float(logged["synthesis/best_loss"]) == pytest.approx(loss)
    assert torch.equal(m.replay.images[:8], images)
    torch.testing.assert_close(m.replay.logits[:8], teacher(images).detach())
    # the bank holds f(x_l) ‖ f(x_g): twice TinyClassifier's 6 BatchNorm input channels
    assert m.feature_bank.features.shape == (20, 12)
    assert torch.equal(m.feature_bank.features[:8], features)
    assert student.training and all(p.requires_grad for p in student.parameters())
    # the head's Adam persists across rounds (it is not a fresh one each round)
    m.begin_iteration(1)
    m.begin_iteration(2)
    step = next(iter(m.head_optimizer.state.values()))["step"]
    assert int(step) == 3 * 3
    assert len(m.feature_bank) == 20 and m.feature_bank.cursor == 24 % 20  # FIFO wrapped


def test_the_student_learns_kd_at_temperature_20_from_memory_views():
    m, teacher, student, _ = build({"temperature": 20.0})
    m.begin_iteration(0)
    torch.manual_seed(5)
    terms = m.student_loss(0)
    torch.manual_seed(5)
    images, teacher_logits = m.replay.sample(4)
    s, t = student(images).div(20).log_softmax(1), teacher_logits.div(20).log_softmax(1)
    expected = 400 * (t.exp() * (t - s)).sum(1).mean()
    torch.testing.assert_close(terms["loss"], expected)


def test_feature_bank_samples_filled_rows_without_replacement():
    bank = FeatureBank(5, 2, torch.device("cpu"))
    assert bank.sample(3).shape == (0, 2)  # empty: no negatives yet
    bank.add(torch.arange(6.0).view(3, 2))
    rows = bank.sample(10)
    assert rows.shape == (3, 2)
    assert sorted(rows[:, 0].tolist()) == [0.0, 2.0, 4.0]
    bank.add(torch.arange(6.0, 12.0).view(3, 2))  # wraps: row 0 is overwritten
    assert len(bank) == 5 and bank.cursor == 1
    assert bank.features[:, 0].tolist() == [10.0, 2.0, 4.0, 6.0, 8.0]
    other = FeatureBank(5, 2, torch.device("cpu"))
    other.load_state_dict(bank.state_dict())
    assert torch.equal(other.features, bank.features) and other.cursor == 1
    with pytest.raises(ConfigError, match="options.bank_size"):
        FeatureBank(3, 2, torch.device("cpu")).load_state_dict(bank.state_dict())


def test_reset_generator_reinitializes_weights_but_not_running_statistics():
    torch.manual_seed(0)
    g = build_generator("dfad", nz=64, ngf=32, img_size=8, channels=1)
    g.train()(torch.randn(16, 64))
    before = {k: v.clone() for k, v in g.state_dict().items() if "running" in k}
    reset_generator(g)
    conv = g.conv_blocks1[0]
    assert conv.weight.std().item() == pytest.approx(0.02, rel=0.1)
    assert torch.equal(conv.bias, torch.zeros_like(conv.bias))
    bn = g.conv_blocks1[1]
    assert bn.weight.mean().item() == pytest.approx(1.0, abs=0.01) and bn.bias.abs().sum() == 0
    for key, value in before.items():
        assert torch.equal(g.state_dict()[key], value), key


def test_contrast_features_are_stage_inputs_of_a_resnet_else_batchnorm_inputs():
    from dfkd.nets import build_model

    assert contrast_layers(build_model("resnet34", 3)) == ["layer1", "layer2", "layer3",
                                                             "layer4"]
    assert contrast_layers(build_model("lenet5_bn", 1)) == ["bn1", "bn2", "bn3"]


def test_teacher_without_batchnorm_is_one_clear_error():
    no_bn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 10))
    with pytest.raises(ConfigError, match=r"no BatchNorm2d layer: use a teacher with "
                                          r"BatchNorm \(e.g. --teacher lenet5_bn\)"):
        build(teacher=no_bn)


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="options.bn"):
        build(bn_weight=1.0)
    with pytest.raises(ConfigError, match="'options.inner_steps' must be >= 1"):
        build({"inner_steps": 0})
    with pytest.raises(ConfigError, match="set replay.capacity"):
        build(replay=None)


# -- end to end ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bn_teacher(tmp_path_factory):
    """An (untrained) lenet5_bn teacher file, with BN statistics of its own."""
    from dfkd.nets import build_model, save_weights

    torch.manual_seed(0)
    model = build_model("lenet5_bn", in_channels=1)
    with torch.no_grad():  # running statistics that are not the defaults 0 and 1
        model.train()(torch.rand(64, 1, 32, 32))
    path = tmp_path_factory.mktemp("teacher") / "lenet5_bn.pt"
    save_weights(model.eval(), path, {"arch": "lenet5_bn", "dataset": "fashion_mnist",
                                      "test_acc": 10.0})
    return path


def run_args(teacher, data_root, out, iters):
    return ["--method", "cmi", "--teacher-ckpt", str(teacher), "--data-root", str(data_root),
            "--out", str(out), "--iters", str(iters), "--batch-size", "8",
            "--set", "options.inner_steps=2", "--set", "options.synthesis_batch=6",
            "--set", "options.bank_size=8", "--set", "options.negatives=4",
            "--set", "generator.ngf=4", "--set", "generator.nz=8",
            "--set", "student.steps=2", "--set", "student.schedule.horizon=2",
            "--set", "replay.capacity=30", "--set", "train.eval_every=1",
            "--set", "train.image_every=1"]


def test_resume_equals_a_straight_run(bn_teacher, fake_data_root, tmp_path):
    a, b = straight_and_resumed(
        lambda out, n: run_args(bn_teacher, fake_data_root, out, n), tmp_path, 2, 1)
    assert b["method"]["replay"]["seen"] == 2 * 6
    ta = assert_same_tensors(a, b)  # weights, replay, head and its Adam moments, bank
    assert any("/method/head_optimizer/state" in k for k in ta)
    bank_b = b["method"]["feature_bank"]
    assert bank_b["filled"] == 8 and bank_b["cursor"] == 12 % 8  # wrapped after the resume


def test_cli_with_a_teacher_without_batchnorm_says_so(fake_data_root, tmp_path):
    from dfkd.nets import build_model, save_weights

    path = tmp_path / "lenet5.pt"
    save_weights(build_model("lenet5", 1), path, {"arch": "lenet5", "dataset": "fashion_mnist",
                                                  "test_acc": 10.0})
    with pytest.raises(ConfigError, match="has no BatchNorm2d layer"):
        train_dfkd(run_args(path, fake_data_root, tmp_path / "run", 1) + ["--teacher", "lenet5"])

"""NAYER (Tran et al., CVPR 2024): the noisy layer redrawn every round while the rest of G
persists, the K-to-1 routing, the label-text embeddings file, the round's schedule, the
losses by hand, and exact resume through tools/train_dfkd.py's main."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import TinyClassifier, make_method

import dfkd.discriminator_distillation.methods  # noqa: F401  (registers nayer)
from dfkd.core.errors import ConfigError
from dfkd.data.specs import DatasetSpec
from dfkd.discriminator_distillation.methods.nayer import NoisyLayers, k_to_1_labels
from dfkd.discriminator_distillation.replay import ReplayBuffer
from dfkd.losses import bn_statistics_loss
from dfkd.losses.agreement import agreement_masked_kl
from generators import build_generator

SPEC = DatasetSpec("tiny", 1, 8, 10, (0.0,), (1.0,))
NZ = 8
SMALL = {"synthesis_batch_size": 25, "steps": 2, "embedding_dim": 6, "warmup_epochs": 0,
         "rounds_per_epoch": 1, "generator_life": 3}


def build(options=None, teacher=None, **setup):
    torch.manual_seed(0)
    teacher = teacher or TinyClassifier(width=6).eval()
    student = TinyClassifier(width=3)
    generator = build_generator("dfad", NZ, 4, 8, 1, 10)
    setup = {"nz": NZ, "batch_size": 16, "replay": ReplayBuffer(500), **setup}
    method = make_method("nayer", teacher, student, generator, SPEC,
                         {**SMALL, **(options or {})}, **setup)
    return method, teacher, student, generator


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- losses by hand ------------------------------------------------------------------------
def test_agreement_masked_kl_by_hand():
    s = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    t = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    # sample 0: both argmax 0 (counted); sample 1: student 1, teacher 0 (masked out)
    zt, zs = math.e + 2, math.e ** 2 + 2
    p_t = [math.e / zt, 1 / zt, 1 / zt]
    log_p_s = [2 - math.log(zs), -math.log(zs), -math.log(zs)]
    kl0 = sum(p * (math.log(p) - q) for p, q in zip(p_t, log_p_s))
    assert kl0 == pytest.approx(0.1120, abs=1e-4)  # 0.5761·(−0.3119) + 2·0.2119·0.6881
    torch.testing.assert_close(agreement_masked_kl(s, t), torch.tensor(kl0 / 2))  # mean over N
    assert agreement_masked_kl(s[1:], t[1:]) == 0  # all disagree: nothing to push
    with pytest.raises(ValueError, match="same shape"):
        agreement_masked_kl(s, t[:, :2])


def test_round_loss_by_hand_with_momentum_bn_and_warmup():
    method, teacher, student, _ = build({"adv": 1.33, "bn": 10.0, "oh": 0.5,
                                         "bn_momentum": 0.9})
    torch.manual_seed(1)
    x, labels = torch.randn(12, 1, 8, 8), torch.arange(12) % 10

    def bn_by_hand(past=None):
        feats = teacher.conv(x)
        return bn_statistics_loss(feats, teacher.bn.running_mean, teacher.bn.running_var,
                                  past, 0.9)

    t_logits, s_logits = teacher(x), student.eval()(x)
    ce = F.cross_entropy(t_logits, labels)
    mask = (s_logits.argmax(1) == t_logits.argmax(1)).float()
    p_t = t_logits.softmax(1)
    kl = ((p_t * (p_t.log() - s_logits.log_softmax(1))).sum(1) * mask).mean()
    terms = method.round_terms(x, labels, adversarial=True)
    torch.testing.assert_close(terms["oh"], ce)
    torch.testing.assert_close(terms["bn"], bn_by_hand())
    torch.testing.assert_close(terms["adv_kl"], kl)
    torch.testing.assert_close(terms["loss"], 0.5 * ce + 10.0 * bn_by_hand() - 1.33 * kl)
    warm = method.round_terms(x, labels, adversarial=False)  # warm-up: no adversarial term
    assert "adv_kl" not in warm
    torch.testing.assert_close(warm["loss"], 0.5 * ce + 10.0 * bn_by_hand())
    # once per round the past statistics take the last batch's; later rounds blend them in
    method.prior.update_momentum()
    feats = teacher.conv(x)
    past = (feats.mean((0, 2, 3)), feats.var((0, 2, 3), unbiased=False))
    blended = method.round_terms(x, labels, adversarial=False)["bn"]
    torch.testing.assert_close(blended, bn_by_hand(past))
    assert method.state_dict()["bn_prior"]["past"][0] is not None  # carried across --resume


def test_student_learns_kd_at_temperature_20():
    method, teacher, student, _ = build()
    torch.manual_seed(2)
    x, t_logits = torch.randn(5, 1, 8, 8), torch.randn(5, 10)
    s_logits = student(x)
    p_t = (t_logits / 20).softmax(1)
    kl = (p_t * (p_t.log() - (s_logits / 20).log_softmax(1))).sum(1).mean() * 400
    torch.testing.assert_close(method.distill(x, t_logits, t_logits.argmax(1))["kd"], kl)


# -- the label -> image path ------------------------------------------------------------------
def test_k_to_1_labels_and_each_chunk_through_its_own_noisy_layer():
    torch.manual_seed(3)
    labels = k_to_1_labels(25, 10)
    assert torch.equal(labels[:20], torch.arange(10).repeat(2))
    assert labels.shape == (25,) and labels[20:].min() >= 0 and labels[20:].max() < 10
    layers = NoisyLayers(count=3, in_features=4, out_features=5, chunk=10)
    e = torch.randn(25, 4)
    expected = torch.cat([F.linear(e[i * 10:(i + 1) * 10], layers.weight[i], layers.bias[i])
                          for i in range(3)])
    torch.testing.assert_close(layers(e), expected)
    layers.reset(torch.Generator().manual_seed(7))  # weights N(0, 1), bias 0
    drawn = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(7))
    assert torch.equal(layers.weight, drawn)
    assert not layers.bias.any()
    with pytest.raises(ValueError, match="need 4 noisy layers"):
        layers(torch.randn(31, 4))


def test_label_to_image_shapes(tmp_path):
    method, *_ = build()
    labels = k_to_1_labels(25, 10)
    embedded = method.label_input(labels)
    assert embedded.shape == (25, 6)  # learned substitute, d = embedding_dim
    assert method.noisy(embedded).shape == (25, NZ)  # the noisy layers feed G's latent
    assert method.generate(labels).shape == (25, 1, 8, 8)
    assert method.noisy.weight.shape == (3, NZ, 6)  # ⌈25 / 10⌉ K-to-1 layers
    path = tmp_path / "lte.pt"
    torch.save(torch.randn(10, 12), path)
    method, *_ = build({"embeddings": str(path)})
    assert method.label_input(labels).shape == (25, 12)  # d from the file
    assert method.generate(labels).shape == (25, 1, 8, 8)


def test_the_teacher_sees_crops_and_flips_of_a_round_never_mixup_blends():
    from dfkd.data.augment import AugmentConfig, MixUp, build_augment

    views = build_augment(AugmentConfig(flip=True, crop_padding=1, mixup=0.4), 8)
    method, *_ = build(augment=views)
    kinds = [type(m).__name__ for m in method.synthesis_views]
    assert kinds == ["RandomCrop", "RandomHorizontalFlip"]  # the asked classes stay true
    assert any(isinstance(m, MixUp) for m in method.augment)  # the student's views keep it
    method, *_ = build(augment=build_augment(AugmentConfig(mixup=0.4), 8))
    assert method.synthesis_views is None


# -- the embeddings file ------------------------------------------------------------------
def test_embeddings_file_is_read_frozen_and_checked(tmp_path):
    table = torch.randn(10, 12)
    good = tmp_path / "good.pt"
    torch.save(table, good)
    method, *_ = build({"embeddings": str(good)})
    assert torch.equal(method.label_input.text, table) and method.label_input.learned is None
    method.one_round(0)
    assert torch.equal(method.label_input.text, table)  # a constant input: never trained

    def error(obj, name):
        path = tmp_path / name
        if obj is not None:
            torch.save(obj, path)
        with pytest.raises(ConfigError) as info:
            build({"embeddings": str(path)})
        assert "\n" not in str(info.value)  # one line
        return str(info.value)

    assert "shape (10,), expected (10, d)" in error(torch.randn(10), "flat.pt")
    assert "shape (7, 12), expected (10, d)" in error(torch.randn(7, 12), "classes.pt")
    assert "holds a dict, not a tensor" in error({"e": table}, "dict.pt")
    assert "no file" in error(None, "missing.pt")
    with pytest.raises(ConfigError, match="options.embeddings is empty: save one"):
        build({"embeddings": " "})
    assert "finite floats" in error(torch.full((10, 3), float("nan")), "nan.pt")
    (tmp_path / "junk.pt").write_text("not a tensor file")
    assert "cannot be read" in error(None, "junk.pt")


# -- rounds: the noisy layer is redrawn, the rest of G persists ------------------------------
def test_the_noisy_layer_is_redrawn_every_round_and_the_rest_of_g_persists():
    method, _, _, generator = build()  # one round per epoch, G rebuilt every 3 epochs
    before = snapshot(generator)
    method.one_round(0)
    g0, input0, z0 = snapshot(generator), snapshot(method.label_input), snapshot(method.noisy)
    assert not same(before, g0)  # the round's own optimizer trained G
    assert method.start_round(1) is False
    assert not torch.equal(method.noisy.weight, z0["weight"]) and not method.noisy.bias.any()
    assert same(snapshot(generator), g0) and same(snapshot(method.label_input), input0)
    method.one_round(1)
    method.one_round(2)
    g2, learned2 = snapshot(generator), method.label_input.learned.weight.detach().clone()
    assert method.start_round(3) is True  # epoch 3: G rebuilt (in place)
    assert not same(snapshot(generator), g2)
    norm = method.label_input.norm
    assert torch.equal(norm.weight, torch.ones(6)) and not norm.bias.any()  # BN1d rebuilt too
    assert torch.equal(method.label_input.learned.weight, learned2)  # the embedding stays


def test_rebuild_and_adversarial_schedule_follow_the_official_epochs():
    """The code's loop, written out: epoch e synthesizes gwp_loops rounds while e < warmup,
    g_loops after; G is rebuilt at an epoch's start when (e - warmup) % g_life == 0 or
    e % g_life == 0; the adversarial term is on from the first epoch after warm-up."""
    warmup, gwp, loops, life = 2, 3, 2, 2
    method, *_ = build({"warmup_epochs": warmup, "warmup_rounds_per_epoch": gwp,
                        "rounds_per_epoch": loops, "generator_life": life})
    expected_rebuilds, expected_adv = [], []
    for epoch in range(7):
        for g in range((gwp if epoch < warmup else loops)):
            expected_rebuilds.append(g == 0 and ((epoch - warmup) % life == 0
                                                 or epoch % life == 0))
            expected_adv.append(epoch >= warmup)
    rounds = len(expected_rebuilds)
    assert [method.start_round(r) for r in range(rounds)] == expected_rebuilds
    flags = []
    terms = method.round_terms
    method.round_terms = lambda x, y, adversarial: (flags.append(adversarial),
                                                    terms(x, y, adversarial))[1]
    method.begin_iteration(0)  # the 6 warm-up rounds, then iteration 0's own round
    assert flags == [a for a in expected_adv[:7] for _ in range(2)]  # 2 steps per round
    assert len(method.replay) == 7 * 25
    method.begin_iteration(1)
    assert flags[-1] is True and len(method.replay) == 8 * 25


# -- bad settings ---------------------------------------------------------------------------
def test_bad_settings_are_one_clear_error():
    with pytest.raises(ConfigError, match=r"'options.steps' must be >= 1, got 0"):
        build({"steps": 0})
    with pytest.raises(ConfigError, match=r"'options.bn_momentum' must be in \[0, 1\), got 1.0"):
        build({"bn_momentum": 1.0})
    with pytest.raises(ConfigError, match="nayer weighs its BN-statistics term with options.bn: set generator.bn_weight: 0"):
        build(bn_weight=1.0)

    class NoBN(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            return self.fc(x.flatten(1))

    with pytest.raises(ConfigError, match="teacher NoBN has no BatchNorm layers: use a teacher "
                                          "with BatchNorm"):
        build(teacher=NoBN())
    method, *_ = build({"bn": 0.0}, teacher=NoBN())  # without the BN term it runs
    assert "bn" not in method.one_round(0)[2]
    with pytest.raises(ConfigError, match="set replay.capacity"):
        build(replay=None)


# -- exact resume through the tool ------------------------------------------------------------
@pytest.fixture(scope="module")
def bn_teacher(tmp_path_factory):
    """An untrained lenet5_bn whose BN statistics are those of random images: resume
    exactness needs no accuracy, only a teacher with BatchNorm."""
    from dfkd.nets import build_model, save_weights

    torch.manual_seed(0)
    model = build_model("lenet5_bn", 1, 10)
    with torch.no_grad():
        model.train()(torch.rand(64, 1, 32, 32))
    path = tmp_path_factory.mktemp("bn_teacher") / "lenet5_bn.pt"
    save_weights(model.eval(), path, {"arch": "lenet5_bn", "dataset": "fashion_mnist",
                                      "test_acc": 10.0})
    return path


def test_resume_equals_straight_run(bn_teacher, fake_data_root, tmp_path):
    from dfkd.discriminator_distillation.train import main as train_dfkd

    def run(out, iters, *extra):
        argv = ["--method", "nayer", "--teacher", "lenet5_bn", "--teacher-ckpt", str(bn_teacher),
                "--data-root", str(fake_data_root), "--out", str(out), "--iters", str(iters),
                "--batch-size", "16"]
        for s in ("generator.ngf=4", "generator.nz=8", "train.eval_every=2",
                  "train.log_every=1", "train.image_every=4", "student.steps=2",
                  "student.schedule.horizon=4", "replay.capacity=200",
                  "augment.crop_padding=2", "augment.flip=true",
                  "options.synthesis_batch_size=40", "options.steps=2",
                  "options.warmup_epochs=1", "options.warmup_rounds_per_epoch=1",
                  "options.rounds_per_epoch=1", "options.generator_life=3",
                  "options.embedding_dim=8"):
            argv += ["--set", s]
        assert train_dfkd(argv + list(extra)) == 0

    straight, split = tmp_path / "straight", tmp_path / "split"
    run(straight, 4)
    run(split, 2)
    run(split, 4, "--resume")  # G is rebuilt at rounds 3 and 4 (epochs 3, 4), after it
    a = torch.load(straight / "latest.pt", weights_only=True)
    b = torch.load(split / "latest.pt", weights_only=True)
    assert b["iteration"] == 4
    for player in ("generator", "student"):
        for part in ("model", "aux"):
            assert same(a["players"][player][part], b["players"][player][part]), (player, part)
    assert "method.learned.weight" in a["players"]["generator"]["aux"]  # the learned e_y
    assert b["method"]["replay"]["size"] == 5 * 40  # 1 warm-up round + 4 iterations
    assert torch.equal(a["method"]["replay"]["images"], b["method"]["replay"]["images"])
    for x, y in zip(a["method"]["bn_prior"]["past"], b["method"]["bn_prior"]["past"]):
        assert torch.equal(x[0], y[0]) and torch.equal(x[1], y[1])
    assert a["history"][-1]["acc"] == b["history"][-1]["acc"]

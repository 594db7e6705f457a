"""PPCD-GAN (issue 19) and its conditional DCGAN teacher: networks and label use, masks and
the progressive schedule by hand, class-aware attention by hand, which player each step
moves, compaction, exact resume of both runs, bad options."""
import json

import pytest
import torch
import torch.nn.functional as F

import dfkd.gan_teachers.conditional_dcgan  # noqa: F401  (registers conditional_dcgan)
import dfkd.joint_distillation.ppcd  # noqa: F401  (registers ppcd)
from dfkd.core.errors import CheckpointError, ConfigError, DfkdError
from dfkd.engine import AdversarialLoop, Player
from dfkd.engine.config import PlayerConfig
from dfkd.gan.conditional import LabeledImages
from dfkd.gan.setup import GANSetup
from dfkd.gan_teachers.train import main as train_gan
from dfkd.joint_distillation.joint import TeacherGAN
from dfkd.joint_distillation.ppcd import PPCD, PPCDOptions, class_aware_attention_loss
from dfkd.joint_distillation.ppcd_masks import (
    cubic_sparsity,
    final_sparsity,
    is_prune_step,
    mask_penalty,
    prune_masks,
    sparsity_of,
)
from dfkd.joint_distillation.train import main as distill_gan
from dfkd.losses.features import attention_transfer
from dfkd.nets import build_model, save_weights
from generators.conditional_dcgan import (
    ConditionalBatchNorm2d,
    ConditionalDCGANGenerator,
    ProjectionDCGANDiscriminator,
    load_conditional_generator,
    load_projection_discriminator,
    save_conditional_state,
)
from generators.dcgan import DCGANGenerator, save_dcgan_state
from generators.ppcd_generator import ChannelMask, PPResGenerator, load_ppres_generator


# -- the conditional teacher ---------------------------------------------------------------
def test_conditional_batchnorm_by_hand():
    cbn = ConditionalBatchNorm2d(2, num_classes=3)
    with torch.no_grad():
        cbn.gain.weight.copy_(torch.tensor([[1.0, 1.0], [2.0, 3.0], [1.0, 1.0]]))
        cbn.shift.weight.copy_(torch.tensor([[0.0, 0.0], [5.0, -1.0], [0.0, 0.0]]))
    x = torch.tensor([[1.0, 3.0], [3.0, 1.0]]).view(2, 2, 1, 1)  # per channel mean 2, std 1
    out = cbn(x, torch.tensor([1, 1])).flatten(1)
    normed = torch.tensor([[-1.0, 1.0], [1.0, -1.0]]) / (1 + 1e-5) ** 0.5
    assert torch.allclose(out, normed * torch.tensor([2.0, 3.0]) + torch.tensor([5.0, -1.0]))


def test_conditional_teacher_shapes_label_use_and_files(tmp_path):
    torch.manual_seed(0)
    g, d = ConditionalDCGANGenerator(nz=8, ngf=4), ProjectionDCGANDiscriminator(ndf=4)
    z, y = torch.randn(3, 8), torch.tensor([0, 4, 9])
    images, maps = g.features(z, y)
    assert images.shape == (3, 1, 32, 32) and images.abs().max() <= 1
    assert [tuple(m.shape) for m in maps] == [(3, 16, 4, 4), (3, 8, 8, 8), (3, 4, 16, 16)]
    g.eval(), d.eval()
    with torch.no_grad():  # the label changes the image and the judgement
        g.norms[0].shift.weight[5] += 1.0
        assert not torch.allclose(g(z, y), g(z, torch.tensor([5, 4, 9])))
        d.embed.weight.normal_()
        h = d.main(images).sum(dim=(2, 3))  # projection: D(x, a) − D(x, b) = ⟨e_a − e_b, Σφ(x)⟩
        diff = d(images, torch.tensor([1, 1, 1])) - d(images, torch.tensor([2, 2, 2]))
        assert torch.allclose(diff, (h * (d.embed.weight[1] - d.embed.weight[2])).sum(1), atol=1e-5)
    with pytest.raises(ValueError, match="one label per latent"):
        g(z, y[:2])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\)"):
        g(z, torch.tensor([0, 1, 10]))
    save_conditional_state(g, tmp_path / "G.pth")
    save_conditional_state(d, tmp_path / "D.pth")
    g2, info = load_conditional_generator(tmp_path / "G.pth")
    assert info == {"nz": 8, "ngf": 4, "nc": 1, "num_classes": 10}
    assert torch.equal(g(z, y), g2(z, y))
    assert load_projection_discriminator(tmp_path / "D.pth")[1] == {"ndf": 4, "nc": 1,
                                                                    "num_classes": 10}
    save_dcgan_state(DCGANGenerator(nz=8, ngf=4), tmp_path / "plain.pth")
    with pytest.raises(CheckpointError, match="is not a conditional DCGAN generator"):
        load_conditional_generator(tmp_path / "plain.pth")
    with pytest.raises(CheckpointError, match="is not a projection discriminator"):
        load_projection_discriminator(tmp_path / "G.pth")


# -- masks and the progressive schedule ----------------------------------------------------
def test_channel_mask_and_pruning_by_hand():
    mask = ChannelMask(4)
    with torch.no_grad():
        mask.weight.copy_(torch.tensor([0.5, -0.1, 2.0, 0.05]))
    x = torch.ones(1, 4, 1, 1)
    assert mask(x).flatten().tolist() == pytest.approx([0.5, -0.1, 2.0, 0.05])
    assert prune_masks([mask], 0.5) == 2  # the two smallest |m|: channels 3 (0.05), 1 (0.1)
    assert mask.keep.tolist() == [1, 0, 1, 0] and mask.kept == 2
    assert mask(x).flatten().tolist() == pytest.approx([0.5, 0.0, 2.0, 0.0])
    with torch.no_grad():
        mask.weight.copy_(torch.tensor([0.01, 9.0, 0.3, 9.0]))  # pruned ones never come back
    assert prune_masks([mask], 0.5) == 0 and mask.keep.tolist() == [1, 0, 1, 0]
    assert prune_masks([mask], 1.0) == 1 and mask.keep.tolist() == [0, 0, 1, 0]  # ≥ 1 kept
    tied = ChannelMask(3)
    assert prune_masks([tied], 0.34) == 1 and tied.keep.tolist() == [0, 1, 1]  # ties: low index
    layers = [ChannelMask(4), ChannelMask(8)]
    assert final_sparsity(layers, 0.5, 1) == pytest.approx(6 / 12)
    prune_masks(layers, 0.5)
    assert sparsity_of(layers) == pytest.approx(0.5)
    with torch.no_grad():  # mean |m| over kept channels: (2 + 2) kept ones of |m| = 1
        layers[0].weight.fill_(-3.0)
    assert float(mask_penalty(layers)) == pytest.approx((2 * 3 + 4 * 1) / 6)


def test_cubic_schedule_by_hand():
    s = [cubic_sparsity(t, 0.8, 10, 20) for t in (0, 9, 10, 15, 20, 99)]
    assert s == pytest.approx([0, 0, 0, 0.8 * (1 - 0.5 ** 3), 0.8, 0.8])
    assert [t for t in range(30) if is_prune_step(t, 10, 25, 4)] == [10, 14, 18, 22, 25]
    assert cubic_sparsity(10, 0.5, 10, 10) == 0.5  # one-shot pruning when start == end


def test_compacted_network_computes_what_the_masked_one_does(tmp_path):
    torch.manual_seed(1)
    g = PPResGenerator(nz=8, ngf=4, num_classes=10)
    with torch.no_grad():
        for m in g.masks():
            m.weight.uniform_(-1.0, 2.0)
    for _ in range(3):  # running statistics
        g(torch.randn(16, 8), torch.randint(10, (16,)))
    prune_masks(g.masks(), 0.5)
    g.eval()
    small = g.compact().eval()
    assert small.widths == [8, 4, 4, 2, 2, 2, 2] and small.masks() == []
    z, y = torch.randn(5, 8), torch.randint(10, (5,))
    assert torch.allclose(g(z, y), small(z, y), atol=1e-5)
    save_conditional_state(small, tmp_path / "G.pth")
    loaded, info = load_ppres_generator(tmp_path / "G.pth")
    assert info["widths"] == small.widths and torch.allclose(loaded(z, y), small(z, y))
    save_conditional_state(g, tmp_path / "masked.pth")
    with pytest.raises(CheckpointError, match="still holds mask layers"):
        load_ppres_generator(tmp_path / "masked.pth")


# -- class-aware attention ------------------------------------------------------------------
def test_class_aware_attention_by_hand():
    # one channel, 1×2 maps; attention = (a², b²) / ‖(a², b²)‖
    student = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]]).view(3, 1, 1, 2)
    teacher = torch.tensor([[0.0, 1.0], [2.0, 2.0], [3.0, 0.0]]).view(3, 1, 1, 2)
    # per sample mean_j (a_S − a_T)²: (1 + 1)/2 = 1, 0, (1 + 1)/2 = 1
    labels = torch.tensor([0, 0, 1])  # class 0: (1 + 0)/2, class 1: 1 → mean over classes 0.75
    loss = class_aware_attention_loss([student, student], [teacher, teacher], labels)
    assert float(loss) == pytest.approx(2 * 0.75)  # two layers (a plain mean would give 2/3 each)
    wide = torch.cat([student, student], 1)  # channel counts may differ
    assert float(class_aware_attention_loss([wide], [teacher], labels)) == pytest.approx(0.75)
    balanced = torch.tensor([3, 7])  # one sample per class: the plain AT loss
    s, t = torch.randn(2, 3, 4, 4), torch.randn(2, 5, 4, 4)
    assert float(class_aware_attention_loss([s], [t], balanced)) == pytest.approx(
        float(attention_transfer([s], [t])), rel=1e-5)
    with pytest.raises(ValueError, match="differ in size"):
        class_aware_attention_loss([s], [torch.randn(2, 5, 2, 2)], balanced)


# -- the method -----------------------------------------------------------------------------
def make_method(**options):
    torch.manual_seed(0)
    teacher_g, teacher_d = ConditionalDCGANGenerator(nz=4, ngf=4), ProjectionDCGANDiscriminator(ndf=4)
    student = PPResGenerator(nz=4, ngf=2)
    data = LabeledImages(torch.rand(12, 1, 32, 32) * 2 - 1, torch.arange(12) % 10, 10)
    return PPCD(TeacherGAN(teacher_g, teacher_d), student, ProjectionDCGANDiscriminator(ndf=2),
                PPCDOptions(**options), data, GANSetup(4, 0, torch.device("cpu")))


def test_student_loss_by_hand():
    m = make_method(attention_weight=3.0, mask_weight=0.5, gan_weight=2.0, pixel_weight=4.0)
    torch.manual_seed(5)
    losses = m.student_loss(0)
    torch.manual_seed(5)
    z = torch.randn(4, 4)
    y = torch.randint(10, (4,))
    fake, maps_s = m.student_g.features(z, y)
    target, maps_t = m.teacher_g.features(z, y)
    adv = -m.discriminator(fake, y).mean()  # hinge generator loss
    attention = class_aware_attention_loss(maps_s, maps_t, y)
    pixel = F.l1_loss(fake, target)
    assert float(losses["gan"]) == pytest.approx(float(adv), rel=1e-5)
    assert float(losses["attention"]) == pytest.approx(float(attention), rel=1e-5)
    assert float(losses["mask_l1"]) == pytest.approx(1.0)  # every m starts at 1
    assert float(losses["loss"]) == pytest.approx(
        float(2 * adv + 3 * attention + 0.5 + 4 * pixel), rel=1e-5)
    assert "pixel" not in make_method().student_loss(0)


def test_begin_iteration_prunes_progressively():
    m = make_method(sparsity=0.5, prune_start=2, prune_end=6, prune_every=2)
    kept = []
    for it in range(8):
        m.begin_iteration(it)
        kept.append([mask.kept for mask in m.masks])
    widths = [8, 4, 4, 2, 2, 2, 2]
    assert kept[0] == kept[2] == widths  # s(2) = 0
    s4 = 0.5 * (1 - 0.5 ** 3)  # 0.4375 at iteration 4
    assert kept[4] == [c - min(int(s4 * c), c - 1) for c in widths] == [5, 3, 3, 2, 2, 2, 2]
    assert kept[6] == kept[7] == [4, 2, 2, 1, 1, 1, 1]


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def moved(nets, before):
    return {name for name, net in nets.items()
            if any(not torch.equal(v, before[name][k]) for k, v in net.named_parameters())}


def test_each_phase_moves_only_its_player(tmp_path):
    m = make_method(pixel_weight=1.0)
    student = Player.from_config("student", m.student_g, PlayerConfig(), 1)
    adversary = Player.from_config("discriminator", m.discriminator, PlayerConfig(), 1)
    loop = AdversarialLoop(m, student, adversary, 1, tmp_path)
    nets = {"teacher_g": m.teacher_g, "student_g": m.student_g, "discriminator": m.discriminator}
    for player, loss, expected in ((adversary, m.adversary_loss, {"discriminator"}),
                                   (student, m.student_loss, {"student_g"})):
        before = {k: snapshot(v) for k, v in nets.items()}
        loop._phase(player, loss, 0)
        assert moved(nets, before) == expected
    assert all(p.grad is None for p in m.teacher_g.parameters())
    prune_masks(m.masks, 0.5)
    m.student_g.zero_grad()
    m.student_loss(0)["loss"].backward()
    for mask in m.masks:  # the masks learn; a pruned channel gets no gradient
        assert mask.weight.grad is not None and mask.weight.grad[mask.keep == 1].abs().sum() > 0
        assert mask.weight.grad[mask.keep == 0].abs().sum() == 0


@pytest.mark.parametrize("options, message", [
    ({"sparsity": 1.0}, r"options.sparsity must be in \[0, 1\), got 1.0"),
    ({"prune_start": 5, "prune_end": 2}, "prune_end .2. comes before options.prune_start .5."),
    ({"prune_every": 0}, "options.prune_every must be >= 1, got 0"),
    ({"discriminator_init": "copy"}, "discriminator_init must be one of teacher, scratch"),
    ({"gan_mode": "bce"}, "gan_mode: unknown GAN loss 'bce'"),
])
def test_bad_options_are_one_config_error(options, message):
    with pytest.raises(ConfigError, match=message) as info:
        make_method(**options)
    assert "\n" not in str(info.value)


# -- the command lines ----------------------------------------------------------------------
TINY = ["--set", "nz=8", "--set", "ngf=4", "--set", "ndf=4", "--set", "train.batch_size=8",
        "--set", "train.eval_every=2", "--set", "train.eval_pairs=16", "--set", "train.log_every=1",
        "--set", "train.image_every=2"]
PPCD_TINY = ["--set", "student_ngf=2", "--set", "train.batch_size=8", "--set",
             "train.eval_every=2", "--set", "train.eval_pairs=16", "--set", "train.log_every=1",
             "--set", "train.image_every=2", "--set", "options.prune_start=1", "--set",
             "options.prune_end=3", "--set", "options.prune_every=1", "--set",
             "options.sparsity=0.5"]


@pytest.fixture(scope="module")
def fid_flags(tmp_path_factory):
    classifier = tmp_path_factory.mktemp("fid") / "lenet5.pt"
    save_weights(build_model("lenet5", in_channels=1, num_classes=10), classifier,
                 {"arch": "lenet5", "dataset": "fashion_mnist", "test_acc": 10.0})
    return ["--set", "fid.classifier=lenet5", "--set", f"fid.classifier_ckpt={classifier}"]


def teach(data_root, out, iters, fid_flags, *extra):
    return train_gan(["--config", "configs/gan/fashion_conditional.yaml", "--data-root",
                      str(data_root), "--out", str(out), "--iters", str(iters), *TINY,
                      *fid_flags, *extra])


@pytest.fixture(scope="module")
def teacher(fake_data_root, tmp_path_factory, fid_flags):
    out = tmp_path_factory.mktemp("cdcgan") / "teacher"
    assert teach(fake_data_root, out, 4, fid_flags) == 0
    return out


def players(path):
    return torch.load(path / "latest.pt", weights_only=True)["players"]


def assert_same_players(a, b):
    for player, state in a.items():
        for key, value in state["model"].items():
            assert torch.equal(value, b[player]["model"][key]), (player, key)


def test_teacher_run_and_its_exact_resume(teacher, fake_data_root, tmp_path, fid_flags):
    metrics = json.loads((teacher / "metrics.json").read_text())
    assert metrics["method"] == "conditional_dcgan" and metrics["task"] == "fashion"
    assert [h["iteration"] for h in metrics["history"]] == [2, 4]
    assert {"fid", "class_acc"} <= set(metrics)
    assert load_conditional_generator(teacher / "latest_net_G.pth")[1]["num_classes"] == 10
    assert load_projection_discriminator(teacher / "latest_net_D.pth")[1]["ndf"] == 4
    split = tmp_path / "split"
    teach(fake_data_root, split, 2, fid_flags)
    teach(fake_data_root, split, 4, fid_flags, "--resume")
    assert_same_players(players(teacher), players(split))


def distil(data_root, teacher, out, iters, fid_flags, *extra):
    return distill_gan(["--config", "configs/ppcd/fashion.yaml", "--teacher-ckpt",
                        str(teacher / "latest_net_G.pth"), "--data-root", str(data_root),
                        "--out", str(out), "--iters", str(iters), *PPCD_TINY, *fid_flags,
                        *extra])


def test_ppcd_run_prunes_compacts_and_resumes_exactly(fake_data_root, teacher, tmp_path,
                                                      fid_flags, capsys):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert distil(fake_data_root, teacher, straight, 4, fid_flags) == 0
    assert "method ppcd; discriminator from" in capsys.readouterr().out
    metrics = json.loads((straight / "metrics.json").read_text())
    assert [h["sparsity"] for h in metrics["history"]] == [0.0, 0.5]  # s(1) = 0, s(3) = 0.5
    assert metrics["student_widths"] == [4, 2, 2, 1, 1, 1, 1]
    assert metrics["student_macs"] < metrics["student_macs_before_pruning"] / 3
    assert metrics["best_fid_pruned"] == metrics["history"][1]["fid"]  # the pruned one only
    assert {"fid", "class_acc", "l1_teacher", "teacher_fid"} <= set(metrics)
    compact, _ = load_ppres_generator(straight / "latest_net_G.pth")
    masked = PPResGenerator(8, 2, 1, 10)
    masked.load_state_dict(torch.load(straight / "latest_net_G_masked.pth", weights_only=True))
    z, y = torch.randn(4, 8), torch.arange(4)
    assert torch.allclose(compact(z, y), masked.eval()(z, y), atol=1e-5)
    distil(fake_data_root, teacher, split, 2, fid_flags)
    distil(fake_data_root, teacher, split, 4, fid_flags, "--resume")
    assert_same_players(players(straight), players(split))  # keep buffers included


def test_ppcd_bad_inputs(fake_data_root, teacher, tmp_path, fid_flags):
    with pytest.raises(ConfigError, match="method ppcd: unknown config key 'options.alpha'"):
        distil(fake_data_root, teacher, tmp_path / "a", 1, fid_flags, "--set", "options.alpha=1")
    with pytest.raises(ConfigError, match="options.sparsity must be in"):
        distil(fake_data_root, teacher, tmp_path / "b", 1, fid_flags,
               "--set", "options.sparsity=1.5")
    plain = tmp_path / "plain"
    plain.mkdir()
    save_dcgan_state(DCGANGenerator(nz=8, ngf=4), plain / "latest_net_G.pth")
    with pytest.raises(CheckpointError, match="is not a conditional DCGAN generator"):
        distil(fake_data_root, plain, tmp_path / "c", 1, fid_flags)
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    (lonely / "latest_net_G.pth").write_bytes((teacher / "latest_net_G.pth").read_bytes())
    with pytest.raises(CheckpointError, match="no teacher discriminator beside"):
        distil(fake_data_root, lonely, tmp_path / "d", 1, fid_flags)
    assert distil(fake_data_root, lonely, tmp_path / "e", 1, fid_flags,
                  "--set", "options.discriminator_init=scratch", "--set", "student_ndf=2") == 0
    with pytest.raises(ConfigError, match="model 'pix2pix' does not train task 'fashion'"):
        teach(fake_data_root, tmp_path / "f", 1, fid_flags, "--set", "model=pix2pix")
    with pytest.raises(ConfigError, match="model 'conditional_dcgan' does not train task "
                                          "'edges2fashion'.*trains task fashion"):
        train_gan(["--task", "edges2fashion", "--set", "model=conditional_dcgan", "--out",
                   str(tmp_path / "g"), "--data-root", str(fake_data_root), *fid_flags])
    with pytest.raises(DfkdError, match="unknown GAN teacher 'cgan'"):
        teach(fake_data_root, tmp_path / "h", 1, fid_flags, "--set", "model=cgan")

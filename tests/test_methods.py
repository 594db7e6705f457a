"""Each data-free method's generator and student losses against hand-computed values."""
import pytest
import torch
import torch.nn.functional as F
from conftest import TinyClassifier, at_by_hand, groups_by_hand, make_method

import dfkd.discriminator_distillation.methods  # noqa: F401
from dfkd.core.errors import ConfigError
from dfkd.data.specs import DatasetSpec
from dfkd.discriminator_distillation.replay import ReplayBuffer
from dfkd.losses import bn_statistics_loss
from generators import build_generator

SPEC = DatasetSpec("tiny", 1, 8, 10, (0.0,), (1.0,))
B, NZ = 16, 8


def kl_by_hand(student_logits, teacher_logits):
    p_t = teacher_logits.softmax(1)
    return (p_t * (p_t.log() - student_logits.log_softmax(1))).sum(1).mean()


def build(method, generator="dafl", **kwargs):
    torch.manual_seed(0)
    teacher, student = TinyClassifier(width=6).eval(), TinyClassifier(width=3)
    g = build_generator(generator, nz=NZ, ngf=4, img_size=8, channels=1, num_classes=10)
    m = make_method(method, teacher, student, g, SPEC, nz=NZ, batch_size=B, **kwargs)
    return m, teacher, student, g


def test_zskt_generator_maximizes_belief_mismatch():
    m, teacher, student, g = build("zskt", "zskt")
    torch.manual_seed(1)
    terms = m.adversary_loss(0)
    torch.manual_seed(1)
    x = g(torch.randn(B, NZ))
    kl = kl_by_hand(student(x), teacher(x))
    torch.testing.assert_close(terms["loss"], -kl / 10)  # element-wise mean over 10 classes


def test_zskt_student_learns_on_the_updated_generators_images_of_the_same_z():
    m, teacher, student, g = build("zskt", "zskt")
    torch.manual_seed(1)
    z = torch.randn(B, NZ)
    torch.manual_seed(1)
    before = g(z).detach()
    loss = m.adversary_loss(0)["loss"]
    optimizer = torch.optim.SGD(g.parameters(), lr=0.5)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()  # the loop's generator step
    images, teacher_logits, _ = m.generated_batch(0)
    with torch.no_grad():
        after = g(z)
    torch.testing.assert_close(images, after)  # G(z) after the step, same z
    assert not torch.allclose(images, before, atol=1e-3)
    torch.testing.assert_close(teacher_logits, teacher(after))
    assert m.generated_batch(0)[0] is images  # drawn once for the iteration's n_S steps


def test_zskt_student_kl_plus_beta_attention():
    m, teacher, student, g = build("zskt", "zskt", options={"at": 250.0})
    m.adversary_loss(0)
    x = m.generated_batch(0)[0]
    terms = m.student_loss(0)  # no replay, no views: G(z) of the generator step's z
    kl = kl_by_hand(student(x), teacher(x))
    at = at_by_hand(groups_by_hand(student, x), groups_by_hand(teacher, x))
    torch.testing.assert_close(terms["kl"], kl)
    torch.testing.assert_close(terms["at"], at)
    torch.testing.assert_close(terms["loss"], kl / 10 + 250.0 * at)


def test_conditional_generator_required_exactly_where_needed():
    with pytest.raises(ConfigError, match="class-conditional"):
        build("cgdd", "dfad")
    with pytest.raises(ConfigError, match="unconditional"):
        build("zskt", "conditional")


def test_attention_methods_check_matching_groups():
    from dfkd.nets import build_model

    teacher = build_model("resnet18", in_channels=1)  # four stages vs TinyClassifier's two
    g = build_generator("zskt", nz=NZ, ngf=4, img_size=8, channels=1)
    with pytest.raises(ConfigError, match="feature groups"):
        make_method("zskt", teacher, TinyClassifier(), g, SPEC, nz=NZ, batch_size=B)


def test_bn_prior_adds_weighted_term_to_any_generator_loss():
    m, teacher, student, g = build("dafl", bn_weight=0.5)
    torch.manual_seed(1)
    terms = m.adversary_loss(0)
    torch.manual_seed(1)
    x = g(torch.randn(B, NZ))
    bn = bn_statistics_loss(teacher.conv(x), teacher.bn.running_mean, teacher.bn.running_var)
    torch.testing.assert_close(terms["bn"], bn)
    plain = 1.0 * terms["onehot"] + 5.0 * terms["balance"] + 0.1 * terms["activation"]  # eq. 6
    torch.testing.assert_close(terms["loss"], plain + 0.5 * bn)


def test_bn_prior_on_teacher_without_batchnorm_is_a_config_error():
    from dfkd.nets import build_model

    g = build_generator("dafl", nz=NZ, ngf=4, img_size=32, channels=1)
    spec = DatasetSpec("tiny32", 1, 32, 10, (0.0,), (1.0,))
    with pytest.raises(ConfigError, match="no.*BatchNorm|BatchNorm layers"):
        make_method("dafl", build_model("lenet5", 1), build_model("lenet5_half", 1), g, spec,
                    nz=NZ, batch_size=B, bn_weight=1.0)


@pytest.mark.parametrize("method", ["dafl", "zskt"])
def test_replayed_samples_cost_no_teacher_forward(method):
    """Student steps on the kept batch and on replayed samples use cached teacher logits
    (ZSKT needs the teacher's feature maps, so it runs the teacher once per student step,
    and once to label the batch it draws after the generator's step)."""
    m, teacher, _, _ = build(method, "zskt" if method == "zskt" else "dafl",
                             replay=ReplayBuffer(64), replay_ratio=0.5)
    m.adversary_loss(0)
    calls = []
    handle = teacher.register_forward_hook(lambda *a: calls.append(1))
    m.student_loss(0)
    m.student_loss(0)
    handle.remove()
    assert len(calls) == (0 if method == "dafl" else 1 + 2)


def test_forgetting_bank_is_captured_once_and_resumes():
    m, teacher, student, g = build("dfad", "dfad")
    first = m.early_bank_agreement(10)
    images = m.bank.images.clone()
    assert images.shape == (1024, 1, 8, 8) and m.bank.iteration == 10
    with torch.no_grad():
        expected = 100.0 * (student.eval()(images).argmax(1) == teacher(images).argmax(1)).float().mean()
    student.train()
    assert first == pytest.approx(float(expected))
    m.early_bank_agreement(20)
    assert torch.equal(m.bank.images, images) and m.bank.iteration == 10
    m2, *_ = build("dfad", "dfad")
    m2.load_state_dict(m.state_dict())
    assert torch.equal(m2.bank.images, images) and torch.equal(m2.bank.labels, m.bank.labels)


def test_diversity_term_for_multi_generators():
    from dfkd.losses import member_diversity_loss

    torch.manual_seed(0)
    teacher, student = TinyClassifier(width=6).eval(), TinyClassifier(width=3)
    g = build_generator("dfad", nz=NZ, ngf=4, img_size=8, channels=1, members=2)
    m = make_method("dfad", teacher, student, g, SPEC, nz=NZ, batch_size=B, diversity=0.7)
    torch.manual_seed(1)
    terms = m.adversary_loss(0)
    torch.manual_seed(1)
    x = g(torch.randn(B, NZ))
    div = member_diversity_loss(teacher(x), [8, 8])
    torch.testing.assert_close(terms["diversity"], div)
    gap = (student(x) - teacher(x)).abs().mean()
    torch.testing.assert_close(terms["loss"], -gap + 0.7 * div)
    with pytest.raises(ConfigError, match="members"):
        build("dfad", "dfad", diversity=0.5)


def test_dafl_generator_loss_on_lenet5_reads_the_120d_conv_features():
    """DAFL's code: L_a over LeNet-5's 120-d conv3 output (the first FC layer's input),
    L_ie with log10; eq. 6 with the paper's weights."""
    from dfkd.nets import build_model

    torch.manual_seed(0)
    teacher, student = build_model("lenet5", 1).eval(), build_model("lenet5_half", 1)
    g = build_generator("dafl", nz=NZ, ngf=4, img_size=32, channels=1)
    spec = DatasetSpec("tiny32", 1, 32, 10, (0.0,), (1.0,))
    m = make_method("dafl", teacher, student, g, spec, nz=NZ, batch_size=B)
    torch.manual_seed(5)
    terms = m.adversary_loss(0)
    torch.manual_seed(5)
    x = g(torch.randn(B, NZ))
    with torch.no_grad():
        out = teacher.maxpool1(teacher.relu1(teacher.conv1(x)))
        out = teacher.maxpool2(teacher.relu2(teacher.conv2(out)))
        features = teacher.relu3(teacher.conv3(out)).flatten(1)
        logits = teacher(x)
    assert features.shape == (B, 120)
    p = logits.softmax(1).mean(0)
    by_hand = {"onehot": F.cross_entropy(logits, logits.argmax(1)),
               "balance": (p * torch.log10(p)).sum(),
               "activation": -features.abs().mean()}
    for key, value in by_hand.items():
        torch.testing.assert_close(terms[key].detach(), value, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(terms["loss"].detach(), by_hand["onehot"] + 5.0 * by_hand["balance"]
                               + 0.1 * by_hand["activation"], rtol=1e-5, atol=1e-6)

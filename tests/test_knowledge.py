"""The student_loss block: pair recorder, projections, every term end to end."""
import pytest
import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.core.registry import UnknownNameError
from dfkd.knowledge import KNOWLEDGE, StudentLoss
from dfkd.knowledge.config import KnowledgeConfig
from dfkd.losses import kd_kl
from dfkd.nets import build_model
from dfkd.nets.hooks import PairRecorder, projection


def pair(teacher="lenet5", student="lenet5_half"):
    torch.manual_seed(0)
    t = build_model(teacher, 1, 10).eval().requires_grad_(False)
    return t, build_model(student, 1, 10)


def batch(n=8):
    return torch.randn(n, 1, 32, 32, generator=torch.Generator().manual_seed(1))


def hook_count(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_pair_recorder_records_and_removes_hooks_also_on_error():
    teacher, student = pair()
    rec = PairRecorder(teacher, student, [("maxpool1", "maxpool1"), ("maxpool2", "maxpool2")],
                       "fc2")
    with rec:
        assert hook_count(teacher) == 3 and hook_count(student) == 3
        teacher(batch()), student(batch())
    assert hook_count(teacher) == 0 and hook_count(student) == 0
    assert [m.shape[1] for m in rec.teacher_maps] == [6, 16]
    assert [m.shape[1] for m in rec.student_maps] == [3, 8]
    assert rec.teacher_embedding.shape == (8, 84) and rec.student_embedding.shape == (8, 42)
    with pytest.raises(RuntimeError, match="boom"), rec:
        raise RuntimeError("boom")
    assert hook_count(teacher) == 0 and hook_count(student) == 0


def test_projection_identity_conv_linear_or_clear_error():
    assert isinstance(projection(torch.Size([2, 4, 8, 8]), torch.Size([2, 4, 8, 8]), "a"),
                      nn.Identity)
    conv = projection(torch.Size([2, 3, 8, 8]), torch.Size([2, 6, 8, 8]), "a")
    assert conv(torch.randn(2, 3, 8, 8)).shape == (2, 6, 8, 8)
    assert projection(torch.Size([2, 5]), torch.Size([2, 7]), "a")(torch.randn(2, 5)).shape == (2, 7)
    with pytest.raises(ConfigError, match="layer1->layer1.*knowledge.teacher_layers"):
        projection(torch.Size([2, 3, 8, 8]), torch.Size([2, 6, 4, 4]), "layer1->layer1")


ALL_TERMS = sorted(KNOWLEDGE.names())


def test_every_issue_term_is_registered():
    for name in ("ce", "kd", "dkd", "pr_dkd", "tf_kd", "fitnet", "at", "sp", "pkt", "nst",
                 "ft", "ab", "vid", "kdsvd", "rkd_distance", "rkd_angle", "fsp", "irg", "crd",
                 "ddkd"):
        assert name in ALL_TERMS


@pytest.mark.parametrize("name", ALL_TERMS)
def test_term_gradients_reach_the_student_and_its_parts_only(name):
    teacher, student = pair()
    loss = StudentLoss({name: 1.0}, teacher, student, batch(2))
    out = loss(batch(), targets=torch.arange(8) % 10)
    assert set(out) >= {name, "loss"} and out["loss"].dim() == 0
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    assert all(p.grad is None for p in teacher.parameters())
    grads = [p.grad for p in student.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads), name
    own = list(loss.parameters())
    if own:  # the term's learnable parts receive gradients too
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in own), name


def test_weighted_sum_and_values():
    teacher, student = pair()
    x = batch()
    loss = StudentLoss({"kd": 0.5, "ce": 2.0, "at": 0.0}, teacher, student, batch(2))
    assert set(loss.terms) == {"kd", "ce"}  # zero weights are dropped
    out = loss(x, targets=torch.zeros(8, dtype=torch.long))
    expected_kd = kd_kl(student(x), teacher(x), temperature=4.0)
    torch.testing.assert_close(out["kd"], expected_kd)
    torch.testing.assert_close(out["loss"], 0.5 * out["kd"] + 2.0 * out["ce"])


def test_probe_leaves_batchnorm_statistics_alone():
    teacher, student = pair("resnet8", "resnet8")
    before = student.bn1.running_mean.clone(), student.bn1.num_batches_tracked.clone()
    StudentLoss({"at": 1.0}, teacher, student, batch(2))
    assert torch.equal(student.bn1.running_mean, before[0])
    assert torch.equal(student.bn1.num_batches_tracked, before[1])
    assert student.training


def test_learnable_parts_are_trained():
    teacher, student = pair()
    loss = StudentLoss({"fitnet": 1.0, "crd": 0.8}, teacher, student, batch(2))
    params = list(student.parameters()) + list(loss.parameters())
    assert len(list(loss.parameters())) > 0
    optimizer = torch.optim.Adam(params, lr=1e-2)
    x = batch(16)
    first = None
    for _ in range(15):
        out = loss(x)
        first = first if first is not None else float(out["fitnet"].detach())
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
    assert float(loss(x)["fitnet"].detach()) < 0.5 * first


def test_bad_blocks_are_clear_errors():
    teacher, student = pair()
    with pytest.raises(UnknownNameError, match="student loss term 'kdd'.*kd"):
        StudentLoss({"kdd": 1.0}, teacher, student, batch(2))
    with pytest.raises(ConfigError, match="non-zero weight"):
        StudentLoss({"kd": 0.0}, teacher, student, batch(2))
    with pytest.raises(ConfigError, match="dkd need class targets"):
        StudentLoss({"dkd": 1.0}, teacher, student, batch(2))(batch())
    resnet = build_model("resnet8", 1, 10).eval()
    with pytest.raises(ConfigError, match="teacher gives 3.*student 2"):
        StudentLoss({"at": 1.0}, resnet, student, batch(2))
    cfg = KnowledgeConfig(teacher_layers=["layer1", "layer2"], student_layers=["maxpool1", "conv2"])
    with pytest.raises(ConfigError, match="layer1->maxpool1"):  # 32x32 vs 14x14
        StudentLoss({"at": 1.0}, resnet, student, batch(2), cfg)
    with pytest.raises(ConfigError, match="at least two"):
        StudentLoss({"fsp": 1.0}, teacher, student, batch(2),
                    KnowledgeConfig(teacher_layers=["maxpool1"], student_layers=["maxpool1"]))


def test_explicit_layers_pair_different_families():
    teacher, student = build_model("resnet8", 1, 10).eval(), build_model("lenet5_half", 1, 10)
    cfg = KnowledgeConfig(teacher_layers=["layer3"], student_layers=["relu2"])  # 8x8 vs 10x10
    with pytest.raises(ConfigError, match="layer3->relu2"):
        StudentLoss({"fitnet": 1.0}, teacher, student, batch(2), cfg)
    cfg = KnowledgeConfig(teacher_layers=["layer2"], student_layers=["relu1"])  # 16x16 vs 28x28
    with pytest.raises(ConfigError):
        StudentLoss({"fitnet": 1.0}, teacher, student, batch(2), cfg)
    cfg = KnowledgeConfig(teacher_layers=["layer3"], student_layers=["maxpool2"])  # 8x8 vs 5x5
    with pytest.raises(ConfigError):
        StudentLoss({"vid": 1.0}, teacher, student, batch(2), cfg)
    out = StudentLoss({"sp": 1.0, "rkd_distance": 1.0}, teacher, student, batch(2), cfg)(batch())
    assert torch.isfinite(out["loss"])


def test_own_losses_of_learnable_parts_are_not_scaled_by_the_term_weight():
    teacher, student = pair()
    out = StudentLoss({"ft": 200.0, "ddkd": 3.0}, teacher, student, batch(2))(batch())
    own = out["ft/reconstruction"] + out["ddkd/diff"] + out["ddkd/ae"]  # λ₁ = λ₂ = 1
    torch.testing.assert_close(out["loss"], 200 * out["ft"] + 3 * out["ddkd"] + own)


def test_warmup_ramps_every_term_but_ce():
    teacher, student = pair()
    loss = StudentLoss({"ce": 1.0, "kd": 2.0}, teacher, student, batch(2),
                       KnowledgeConfig(warmup=4))
    x, y = batch(), torch.zeros(8, dtype=torch.long)
    for step in range(6):
        out = loss(x, y)
        ramp = min(1.0, step / 4)
        torch.testing.assert_close(out["loss"], out["ce"] + 2.0 * ramp * out["kd"])
    assert int(loss.state_dict()["steps"]) == 6  # saved with the student, so resume ramps on
    with pytest.raises(ConfigError, match="warmup"):
        StudentLoss({"kd": 1.0}, teacher, student, batch(2), KnowledgeConfig(warmup=-1))


def test_teacher_free_terms_do_not_run_the_teacher():
    teacher, student = pair()
    calls = []
    teacher.register_forward_hook(lambda *args: calls.append(1))
    y = torch.zeros(8, dtype=torch.long)
    StudentLoss({"ce": 1.0, "tf_kd": 0.1}, teacher, student, batch(2))(batch(), y)
    assert calls == [1]  # the probe only
    StudentLoss({"ce": 1.0, "kd": 1.0}, teacher, student, batch(2))(batch(), y)
    assert len(calls) == 3  # probe + one forward for KD

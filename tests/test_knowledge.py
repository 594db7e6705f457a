"""The student_loss block: pair recorder, projections, every term end to end; the
knowledge: section's per-term settings."""
import dataclasses
import math

import pytest
import torch
import torch.nn as nn
import yaml

from dfkd.adversarial_kd.config import KDConfig
from dfkd.core.config import build_config, to_dict, validate
from dfkd.core.errors import ConfigError
from dfkd.core.registry import UnknownNameError
from dfkd.discriminator_distillation.config import DFKDConfig
from dfkd.knowledge import KNOWLEDGE, StudentLoss
from dfkd.knowledge.config import KnowledgeConfig
from dfkd.knowledge.terms import Probe, Views
from dfkd.losses import activation_boundary, kd_kl, kdsvd, pr_dkd
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
    with pytest.raises(ConfigError, match="'knowledge.warmup' must be >= 0, got -1"):
        validate(KnowledgeConfig(warmup=-1), "knowledge.")  # checked when a config is read


def test_teacher_free_terms_do_not_run_the_teacher():
    teacher, student = pair()
    calls = []
    teacher.register_forward_hook(lambda *args: calls.append(1))
    y = torch.zeros(8, dtype=torch.long)
    StudentLoss({"ce": 1.0, "tf_kd": 0.1}, teacher, student, batch(2))(batch(), y)
    assert calls == [1]  # the probe only
    StudentLoss({"ce": 1.0, "kd": 1.0}, teacher, student, batch(2))(batch(), y)
    assert len(calls) == 3  # probe + one forward for KD


# -- the knowledge: section: one sub-section per term, old flat keys named ---------------
def test_defaults_are_the_published_ones():
    assert to_dict(KnowledgeConfig()) == {
        "temperature": 4.0, "warmup": 0, "teacher_layers": [], "student_layers": [],
        "dkd": {"alpha": 1.0, "beta": 8.0},
        "tf_kd": {"virtual_prob": 0.9, "virtual_temperature": 20.0},
        "ab": {"margin": 1.0}, "ft": {"rate": 0.5}, "kdsvd": {"k": 1},
        "crd": {"dim": 128, "negatives": 4096, "temperature": 0.07},
        "ddkd": {"steps": 5, "diff": 1.0, "ae": 1.0},
        "adversarial": {"gan_mode": "vanilla", "hidden": 128}}


SECTIONS = {name: value for name, value in vars(KnowledgeConfig()).items()
            if dataclasses.is_dataclass(value)}


def test_sections_are_named_after_the_terms_that_read_them():
    assert set(SECTIONS) <= set(KNOWLEDGE.names())


def _setting(cfg, dotted):
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


RENAMED = sorted(KnowledgeConfig.renamed.items())


def test_every_section_setting_has_its_old_flat_key():
    """Each setting that moved into a section keeps its old key, which names the new one."""
    moved = {f"{name}.{key}" for name, section in SECTIONS.items() for key in vars(section)}
    assert set(KnowledgeConfig.renamed.values()) == moved
    assert not set(KnowledgeConfig.renamed) & set(vars(KnowledgeConfig()))


@pytest.mark.parametrize("old, new", RENAMED)
def test_old_key_in_a_config_file_names_the_new_key(old, new, tmp_path):
    value = _setting(KnowledgeConfig(), new)
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump({"knowledge": {old: value}}))
    for default in (KDConfig(), DFKDConfig()):
        with pytest.raises(ConfigError) as info:
            build_config(default, [path])
        message = str(info.value)
        assert "\n" not in message
        assert f"'knowledge.{old}'" in message and message.endswith(f"use 'knowledge.{new}'")
    # the new key takes a changed value: another GAN loss, twice a count, half a rate
    if isinstance(value, str):
        changed = "lsgan"
    else:
        changed = 2 * value if isinstance(value, int) else value / 2
    cfg = build_config(KDConfig(), [], [f"knowledge.{new}={changed}"])
    assert _setting(cfg.knowledge, new) == changed
    assert _setting(KnowledgeConfig(), new) == value  # the default is left alone


def knowledge_from(*overrides):
    """The knowledge section as the command line builds it from ``--set`` overrides."""
    return build_config(KDConfig(), [], [f"knowledge.{o}" for o in overrides]).knowledge


def logit_views(student, teacher, targets):
    return Views(torch.tensor(student), torch.tensor(teacher) if teacher else None,
                 torch.tensor(targets))


def logit_term(name, cfg):
    return KNOWLEDGE.get(name)(Probe([], [], 0, 0, []), cfg)


def test_dkd_section_reaches_dkd_by_hand():
    # K = 3, target 0, τ = 1. Teacher p = [1/4, 1/2, 1/4], student uniform:
    # TCKD = KL([1/4, 3/4] ‖ [1/3, 2/3]); NCKD = KL([2/3, 1/3] ‖ [1/2, 1/2])
    tckd = 0.25 * math.log(0.75) + 0.75 * math.log(9 / 8)
    nckd = 2 / 3 * math.log(4 / 3) + 1 / 3 * math.log(2 / 3)
    v = logit_views([[0.0, 0.0, 0.0]], [[0.0, math.log(2), 0.0]], [0])
    default = float(logit_term("dkd", knowledge_from("temperature=1"))(v))
    assert default == pytest.approx(1.0 * tckd + 8.0 * nckd, rel=1e-5)  # α 1, β 8
    beta_3 = float(logit_term("dkd", knowledge_from("temperature=1", "dkd.beta=3"))(v))
    assert default - beta_3 == pytest.approx(5 * nckd, rel=1e-5)
    both = knowledge_from("temperature=1", "dkd.alpha=0.5", "dkd.beta=2")
    assert float(logit_term("dkd", both)(v)) == pytest.approx(0.5 * tckd + 2 * nckd, rel=1e-5)


def test_dkd_section_is_shared_with_pr_dkd():
    torch.manual_seed(0)
    s, t, y = torch.randn(6, 4), torch.randn(6, 4), torch.arange(6) % 4
    v = logit_views(s.tolist(), t.tolist(), y.tolist())
    cfg = knowledge_from("dkd.alpha=2", "dkd.beta=0.5")
    got = float(logit_term("pr_dkd", cfg)(v))
    assert got == pytest.approx(float(pr_dkd(s, t, y, 2.0, 0.5, 4.0)), rel=1e-6)
    assert got != pytest.approx(float(pr_dkd(s, t, y, 1.0, 8.0, 4.0)), rel=1e-3)


def test_tf_kd_section_reaches_the_virtual_teacher_by_hand():
    # K = 2, target 0, a = 0.75, τ = 1: KL([3/4, 1/4] ‖ [1/2, 1/2])
    v = logit_views([[0.0, 0.0]], None, [0])
    cfg = knowledge_from("tf_kd.virtual_prob=0.75", "tf_kd.virtual_temperature=1")
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert float(logit_term("tf_kd", cfg)(v)) == pytest.approx(expected, rel=1e-5)


def test_crd_section_sizes_the_queue_and_embedding():
    teacher, student = pair()
    loss = StudentLoss({"crd": 1.0}, teacher, student, batch(2),
                       knowledge_from("crd.negatives=8192", "crd.dim=16", "crd.temperature=0.5"))
    contrast = loss.terms["crd"].contrast
    assert contrast.queue_s.shape == contrast.queue_t.shape == (8192, 16)
    assert contrast.embed_s.out_features == 16 and contrast.temperature == 0.5
    default = StudentLoss({"crd": 1.0}, teacher, student, batch(2)).terms["crd"].contrast
    assert default.queue_s.shape == (4096, 128) and default.temperature == 0.07


def test_feature_sections_reach_their_terms():
    teacher, student = pair()
    x = batch()
    cfg = knowledge_from("ab.margin=2.5", "kdsvd.k=2", "ft.rate=0.25", "ddkd.steps=3",
                         "ddkd.diff=2", "ddkd.ae=0.5")
    loss = StudentLoss({"ab": 1.0, "kdsvd": 1.0, "ft": 1.0, "ddkd": 3.0}, teacher, student,
                       batch(2), cfg)
    assert loss.terms["ft"].paraphraser.encoder[-1][0].out_channels == 4  # 0.25 · 16
    assert loss.terms["ddkd"].model.steps == 3
    torch.manual_seed(0)
    out = loss(x)
    # the own losses of DDKD carry λ₁ = 2, λ₂ = 0.5; FT's reconstruction weight 1
    torch.testing.assert_close(out["loss"], out["ab"] + out["kdsvd"] + out["ft"] + 3 * out["ddkd"]
                               + out["ft/reconstruction"] + 2 * out["ddkd/diff"]
                               + 0.5 * out["ddkd/ae"])
    views = loss.views(x)
    ab, svd = loss.terms["ab"], loss.terms["kdsvd"]
    pairs = list(zip(views.student_maps, views.teacher_maps))
    torch.testing.assert_close(out["ab"], sum(activation_boundary(c(s), t, 2.5)
                                              for c, (s, t) in zip(ab.connectors, pairs)))
    torch.testing.assert_close(out["kdsvd"], sum(kdsvd(p(s), t, 2)
                                                 for p, (s, t) in zip(svd.projections, pairs)))
    # ... and not with the defaults (margin 1, k = 1)
    assert float(out["ab"]) != pytest.approx(float(sum(
        activation_boundary(c(s), t, 1.0) for c, (s, t) in zip(ab.connectors, pairs))))
    assert float(out["kdsvd"]) != pytest.approx(float(sum(
        kdsvd(p(s), t, 1) for p, (s, t) in zip(svd.projections, pairs))))


def test_adversarial_section_is_shared_with_anc():
    teacher, student = pair()
    cfg = knowledge_from("adversarial.gan_mode=lsgan", "adversarial.hidden=16")
    loss = StudentLoss({"adversarial_logits": 1.0, "anc": 1.0}, teacher, student, batch(2), cfg)
    for name in ("adversarial_logits", "anc"):
        assert loss.terms[name].mode == "lsgan"
        assert loss.terms[name].critic.net[0].out_features == 16
    default = StudentLoss({"anc": 1.0}, teacher, student, batch(2)).terms["anc"]
    assert default.mode == "vanilla" and default.critic.net[0].out_features == 128

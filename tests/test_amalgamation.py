"""Data-free knowledge amalgamation (Ye et al., CVPR 2020): class-subset teachers (label
remapping, the recorded class range), the teachers' class ranges (logit concatenation, the
ensemble rule, the student's target for an image given to one teacher, overlap / coverage
errors), each loss term by hand on tiny tensors, the group-stack networks' shapes, the
stage schedule, and exact resume of a tiny two-teacher run through train_dfkd."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from conftest import assert_same_tensors, make_fake_fashion, straight_and_resumed
from torch.utils.data import TensorDataset

import dfkd.discriminator_distillation.methods  # noqa: F401  (registers amalgamation)
from dfkd.core.errors import CheckpointError, ConfigError
from dfkd.data.datasets import class_subset, parse_classes
from dfkd.discriminator_distillation.amalgamation_losses import (
    branch_loss,
    consistency_loss,
    routed_onehot_loss,
    sparsity_loss,
)
from dfkd.discriminator_distillation.group_stack import (
    ChannelFilter,
    GroupStackGenerator,
    block_inputs,
    lenet_blocks,
)
from dfkd.discriminator_distillation.multi_teacher import (
    MultiTeacher,
    check_class_ranges,
    routed_distribution,
    routed_logits,
    routing,
    soft_routed_distribution,
)
from dfkd.discriminator_distillation.sample import load_run_generator, run_config
from dfkd.discriminator_distillation.sample import main as sample_main
from dfkd.discriminator_distillation.train import main as train_dfkd
from dfkd.engine.teacher import classes_label, default_teacher_path, train_teacher
from dfkd.losses import kd_kl
from dfkd.nets import build_model, save_weights

HALVES = [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


# -- class-subset teachers ---------------------------------------------------------------------
def test_parse_classes_and_label():
    assert parse_classes("0-4", 10) == [0, 1, 2, 3, 4]
    assert parse_classes("7,0-2", 10) == [0, 1, 2, 7]
    assert classes_label([0, 1, 2, 7, 8]) == "0-2,7-8"
    for bad in ("4-0", "0-10", "a", "-1"):
        with pytest.raises(ConfigError, match="--classes like 0-4"):
            parse_classes(bad, 10)
    assert default_teacher_path("lenet5", "fashion_mnist", [5, 6, 7, 8, 9]).name == \
        "lenet5_fashion_mnist_classes5-9.pt"


def test_class_subset_keeps_those_classes_and_remaps_labels():
    images = torch.arange(12.0).view(12, 1, 1, 1)
    labels = torch.tensor([0, 5, 9, 6, 1, 5, 7, 8, 2, 9, 3, 4])
    sub = class_subset(TensorDataset(images, labels), [5, 6, 7, 8, 9])
    x, y = sub.tensors
    assert x.flatten().tolist() == [1, 2, 3, 5, 6, 7, 9]  # the images of classes 5-9, in order
    assert y.tolist() == [0, 4, 1, 0, 2, 3, 4]  # class 5 -> 0, ..., class 9 -> 4
    odd = class_subset(TensorDataset(images, labels), [9, 1])  # listed order: 9 -> 0, 1 -> 1
    assert odd.tensors[1].tolist() == [0, 1, 0]


def test_train_teacher_on_a_class_subset_records_its_range(tmp_path):
    root = make_fake_fashion(tmp_path / "data", n_train=260, n_test=20)  # 130 of classes 5-9
    out = tmp_path / "half.pt"
    model, meta = train_teacher("lenet5", "fashion_mnist", out, epochs=1,
                                data_root=str(root), classes=[5, 6, 7, 8, 9],
                                log=lambda *_: None)
    assert meta["classes"] == [5, 6, 7, 8, 9] and meta["num_classes"] == 5
    assert model.fc2.out_features == 5
    assert torch.load(out, weights_only=True)["meta"]["classes"] == [5, 6, 7, 8, 9]


# -- the teachers' class ranges ----------------------------------------------------------------
def member_logits():
    """Two images; teacher A (classes 0-4) is sure of image 0, teacher B (5-9) of image 1."""
    a = torch.tensor([[4.0, 0.0, 0.0, 0.0, 0.0], [0.5, 0.0, 0.0, 0.3, 0.0]])
    b = torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 5.0]])
    return [a, b]


def test_routing_and_the_ensemble_rule_on_hand_made_logits():
    logits = member_logits()
    assert routing(logits).tolist() == [0, 1]
    ensemble = routed_logits(logits, HALVES, 10)
    assert ensemble.argmax(dim=1).tolist() == [0, 9]  # A's class 0; B's class 4 -> 9
    # classes spread over the space: B's argmax 4 is its fifth listed class, 8
    spread = routed_logits(logits, [[1, 3, 5, 7, 9], [0, 2, 4, 6, 8]], 10)
    assert spread.argmax(dim=1).tolist() == [1, 8]
    tie = [torch.zeros(1, 5), torch.zeros(1, 5)]  # equally (un)sure: the first teacher
    assert routing(tie).tolist() == [0]


def test_routed_distribution_is_the_chosen_teachers_softmax_in_its_range():
    logits = member_logits()
    q = routed_distribution(logits, HALVES, 10)
    assert torch.allclose(q[0, :5], F.softmax(logits[0][0], dim=0))
    assert torch.equal(q[0, 5:], torch.zeros(5))
    assert torch.allclose(q[1, 5:], F.softmax(logits[1][1], dim=0))
    assert torch.equal(q[1, :5], torch.zeros(5))
    # the K-way logits give back that distribution through a softmax
    assert torch.allclose(F.softmax(routed_logits(logits, HALVES, 10), dim=1), q, atol=1e-12)


def test_multi_teacher_concatenates_the_members_logits():
    torch.manual_seed(0)
    a, b = build_model("lenet5", 1, 5), build_model("lenet5", 1, 5)
    teacher = MultiTeacher([a, b], HALVES, 10)
    x = torch.randn(3, 1, 32, 32)
    za, zb = teacher.member_logits(x)
    assert torch.equal(za, a(x)) and torch.equal(zb, b(x))
    assert torch.equal(teacher(x), routed_logits([a(x), b(x)], HALVES, 10))


def test_student_target_for_an_image_given_to_one_teacher():
    """KL(q ‖ p_S) with q teacher A's softmax on classes 0-4 and 0 on B's classes."""
    logits = member_logits()
    student = torch.tensor([[1.0, 0.0, -1.0, 0.5, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0]])
    pa = F.softmax(logits[0][:1], dim=1)[0]
    log_ps = F.log_softmax(student, dim=1)[0]
    by_hand = sum(pa[c] * (pa[c].log() - log_ps[c]) for c in range(5))
    got = kd_kl(student, routed_logits([z[:1] for z in logits], HALVES, 10))
    assert math.isclose(got.item(), by_hand.item(), rel_tol=1e-5)


def test_overlapping_or_uncovering_ranges_are_one_clear_error():
    with pytest.raises(ConfigError, match=r"overlap: class 4 is in teacher 1 \(0-4\) and "
                                          r"teacher 2 \(4-9\)"):
        check_class_ranges([[0, 1, 2, 3, 4], [4, 5, 6, 7, 8, 9]], 10)
    with pytest.raises(ConfigError, match=r"leave class\(es\) 9 of the student's 10 outputs "
                                          r"uncovered"):
        check_class_ranges([[0, 1, 2, 3, 4], [5, 6, 7, 8]], 10)
    with pytest.raises(ConfigError, match="class 10, outside the student's 0-9"):
        check_class_ranges([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9, 10]], 10)
    check_class_ranges(HALVES, 10)


# -- the loss terms by hand --------------------------------------------------------------------
def test_loss_terms_by_hand():
    probs = torch.tensor([[0.5, -0.25], [0.0, 1.0]])
    assert math.isclose(sparsity_loss(probs).item(), 1.75 / 4)  # eq. 7: mean |y|
    # eq. 11 [reconstructed l]: KL(the teacher on the image ‖ the teacher on the feature)
    feature = torch.tensor([[0.0, math.log(3.0)]])  # softmax (1/4, 3/4)
    image = torch.tensor([[2.0, 1.0]])
    p = math.e / (math.e + 1)  # softmax (p, 1 - p)
    kl = p * math.log(p / 0.25) + (1 - p) * math.log((1 - p) / 0.75)
    assert math.isclose(consistency_loss(feature, image).item(), kl, rel_tol=1e-5)
    assert consistency_loss(image, image).item() == pytest.approx(0.0, abs=1e-7)
    # eq. 13 at the last block: each teacher's KL on its own slice of the student's logits
    student = torch.tensor([[0.0, math.log(3.0), 0.0, 0.0]])
    teachers = [torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 0.0]])]
    kl_a = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)  # slice (0, log 3)
    got = branch_loss(student, teachers, [[0, 1], [2, 3]], 1.0)
    assert math.isclose(got.item(), kl_a, rel_tol=1e-5)  # teacher B's slice matches: 0
    # L_oh of the chosen teacher only: image 0 goes to A (CE to its class 0), image 1 to B
    logits = member_logits()
    ce_a0 = F.cross_entropy(logits[0][:1], torch.tensor([0]))
    ce_b1 = F.cross_entropy(logits[1][1:], torch.tensor([4]))
    assert math.isclose(routed_onehot_loss(logits).item(), (ce_a0 + ce_b1).item() / 2,
                        rel_tol=1e-6)
    # the ensemble's soft routing: weights c_m / Σ c
    soft = soft_routed_distribution(
        [torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(3), 0.0]])], [[0, 1], [2, 3]], 4)
    wa, wb = 0.5 / 1.25, 0.75 / 1.25
    assert torch.allclose(soft, torch.tensor([[wa * 0.5, wa * 0.5, wb * 0.75, wb * 0.25]]))


# -- the group-stack networks ------------------------------------------------------------------
def test_group_stack_generator_makes_the_teachers_block_inputs():
    torch.manual_seed(0)
    teacher = build_model("lenet5", 1, 5)
    shapes = block_inputs(lenet_blocks(teacher, "teacher"), teacher, (1, 32, 32))
    assert shapes == [(1, 32, 32), (6, 14, 14), (16, 5, 5), (120,)]
    g = GroupStackGenerator(8, 4, shapes[::-1])
    feats = g.features(torch.randn(3, 8))
    assert [tuple(f.shape[1:]) for f in feats] == shapes[::-1]
    assert (feats[0] >= 0).all() and (feats[2] >= 0).all()  # post-ReLU like the teacher's
    projected = ChannelFilter(6, 3, project=True)
    assert projected(torch.ones(2, 6, 4, 4)).shape == (2, 3, 4, 4)
    with torch.no_grad():  # identity projection at the start: only the gate acts
        f = ChannelFilter(3, 3, project=True)
        x = torch.randn(2, 3, 4, 4)
        gate = f.gate(x.mean(dim=(2, 3)))
        assert torch.allclose(f(x), x * gate[:, :, None, None], atol=1e-6)
    with pytest.raises(ConfigError, match="knows LeNet-5 only"):
        lenet_blocks(torch.nn.Linear(2, 2), "student")


# -- a tiny two-teacher run --------------------------------------------------------------------
def half_teachers(tmp_path, ranges=("0-4", "5-9")):
    paths = []
    for k, text in enumerate(ranges):
        torch.manual_seed(k)
        classes = parse_classes(text, 10)
        path = tmp_path / f"half{k}.pt"
        save_weights(build_model("lenet5", 1, len(classes)), path,
                     {"arch": "lenet5", "dataset": "fashion_mnist", "classes": classes,
                      "num_classes": len(classes), "test_acc": 50.0})
        paths.append(str(path))
    return paths


def run_args(paths, data_root, out, iters):
    return ["--method", "amalgamation", "--teacher", "lenet5", "--data-root", str(data_root),
            "--out", str(out), "--iters", str(iters), "--batch-size", "8",
            "--set", f"teacher_ckpt=[{','.join(paths)}]", "--set", "generator.nz=8",
            "--set", "options.warmup_rounds=1", "--set", "options.block_rounds=1",
            "--set", "options.group_width=4", "--set", "options.ensemble_balance=0.5",
            "--set", "replay.capacity=20", "--set", "augment.crop_padding=2",
            "--set", "train.eval_every=3", "--set", "train.image_every=0",
            "--set", "train.log_every=1"]


def test_resume_equals_a_straight_run_through_every_stage(fake_data_root, tmp_path):
    """Stage 1 at iteration 0, then student blocks 1, 2, 3 and 4 (the last twice)."""
    paths = half_teachers(tmp_path)
    a, b = straight_and_resumed(lambda out, n: run_args(paths, fake_data_root, out, n),
                                tmp_path, 6, 3)
    ta = assert_same_tensors(a, b)
    student = a["players"]["student"]["model"]
    aux = a["players"]["generator"]["aux"]
    assert any(k.startswith("method.stack.groups.") for k in aux)
    assert any("/players/student/aux/method." in k for k in ta)  # the student's filters
    assert student["fc2.weight"].shape == (10, 84)
    # tools/sample.py rebuilds the group-stack generator from the two teachers
    run, grid = tmp_path / "straight", tmp_path / "grid.png"
    assert sample_main([str(run), "--per-class", "2", "--data-root", str(fake_data_root),
                   "--out", str(grid)]) == 0
    assert grid.stat().st_size > 0
    cfg = run_config(run)
    assert isinstance(cfg.teacher_ckpt, list) and cfg.options["group_width"] == 4
    teachers = [build_model("lenet5", 1, 5) for _ in paths]
    _, _, g = load_run_generator(run, "latest.pt", False, torch.device("cpu"),
                                 MultiTeacher(teachers, [list(range(5)), list(range(5, 10))], 10))
    assert all(torch.equal(v, aux[f"method.stack.{k}"]) for k, v in g.state_dict().items())


BLOCK_PARAMS = {1: "conv1", 2: "conv2", 3: "conv3", 4: "fc"}


def test_stage_schedule_and_the_blocks_each_stage_trains():
    """Stage 1: G's loss moves G, the student is idle; stage 2, block b: only the student's
    block b (and its filters) get gradients, G is idle."""
    from conftest import make_method

    from dfkd.data.specs import DatasetSpec

    torch.manual_seed(0)
    teacher = MultiTeacher([build_model("lenet5", 1, 5), build_model("lenet5", 1, 5)], HALVES, 10)
    student = build_model("lenet5", 1, 10)
    spec = DatasetSpec("fashion_mnist", 1, 32, 10, (0.0,), (1.0,))
    m = make_method("amalgamation", teacher, student, build_model("lenet5", 1, 10), spec,
                    {"warmup_rounds": 2, "block_rounds": 3, "group_width": 4}, nz=8,
                    batch_size=4)
    assert [m.block(i) for i in (0, 1, 2, 4, 5, 8, 11, 99)] == [0, 0, 1, 1, 2, 3, 4, 4]
    generator = m.parts()["generator"]
    terms = m.generator_loss(0)
    assert set(terms) >= {"onehot", "activation", "balance", "consistency", "ensemble_balance"}
    terms["loss"].backward()
    assert all(p.grad is not None for p in m.stack.parameters())
    assert all(p.grad is None for p in student.parameters())
    idle = m.student_loss(1)
    assert "stage1" in idle and not idle["loss"].grad_fn
    for b, iteration in ((1, 2), (2, 5), (3, 8), (4, 11)):
        student.zero_grad(set_to_none=True)
        m.student_loss(iteration)["loss"].backward()
        trained = {n.split(".")[0][:len(BLOCK_PARAMS[b])] for n, p in student.named_parameters()
                   if p.grad is not None}
        assert trained == {BLOCK_PARAMS[b]}, (b, trained)
        filters = m.parts()["student"]
        for k, f in enumerate(filters):
            assert all((p.grad is not None) == (k == b - 1) for p in f.parameters()), (b, k)
            for p in f.parameters():
                p.grad = None
        assert "stage2" in m.generator_loss(iteration)
    assert len(list(generator.parameters())) > len(list(m.stack.parameters()))  # + filters


def test_bad_teacher_lists_are_one_clear_error(fake_data_root, tmp_path):
    from dfkd.discriminator_distillation.multi_teacher import load_multi_teacher

    good = half_teachers(tmp_path)
    _, meta = load_multi_teacher("lenet5", "fashion_mnist", good, data_root=str(fake_data_root))
    assert [m["classes"] for m in meta["members"]] == HALVES and 0 <= meta["test_acc"] <= 100
    overlapping = half_teachers(tmp_path, ("0-4", "4-9"))
    with pytest.raises(ConfigError, match="class ranges overlap: class 4"):
        train_dfkd(run_args(overlapping, fake_data_root, tmp_path / "a", 1))
    short = half_teachers(tmp_path, ("0-4", "5-8"))
    with pytest.raises(ConfigError, match=r"class\(es\) 9 .* uncovered"):
        train_dfkd(run_args(short, fake_data_root, tmp_path / "b", 1))
    unlabelled = tmp_path / "five.pt"
    save_weights(build_model("lenet5", 1, 5), unlabelled, {"arch": "lenet5", "num_classes": 5})
    with pytest.raises(CheckpointError, match="records no class range.*--classes"):
        train_dfkd(run_args([short[0], str(unlabelled)], fake_data_root, tmp_path / "c", 1))


# -- the benchmark's rows and report -----------------------------------------------------------
def test_benchmark_row_and_report_state_the_target(tmp_path):
    from benchmarks.amalgamation.report import write_report
    from benchmarks.amalgamation.runs import run_command, summarize

    metrics = {"teacher_acc": 70.0, "student_acc": 63.0, "best_student_acc": 64.0, "iters": 9,
               "seconds": 60.0, "history": [{"iteration": 9, "seconds": 60.0, "acc": 63.0}]}
    row = summarize(metrics, 0, {"cpu_seconds": 600.0, "parts": 1}, {"0-4": 60.0, "5-9": 66.0})
    assert math.isclose(row["ratio"], 0.9) and row["ensemble_acc"] == 70.0
    low = {**row, "seed": 1, "student_acc": 56.0, "ratio": 0.8, "cpu_seconds": 1200.0}
    write_report({"rows": [row]}, tmp_path)
    text = (tmp_path / "amalgamation.md").read_text()
    assert "≥ 0.85× the ensemble on all ten classes: met" in text
    assert "within 15 CPU minutes: met (longest 10.0)" in text
    write_report({"rows": [row, low]}, tmp_path)
    text = (tmp_path / "amalgamation.md").read_text()
    assert "ensemble on all ten classes: MISSED" in text and "MISSED (longest 20.0)" in text
    cmd = run_command(2, tmp_path / "run", None)
    ckpts = cmd[cmd.index("--set", cmd.index("teacher=lenet5")) + 1]
    assert ckpts.startswith("teacher_ckpt=[") and "classes0-4_seed2.pt," in ckpts
    assert "--resume" not in cmd and "--config" not in cmd
    dafl = run_command(2, tmp_path / "run", None, method="dafl")
    assert dafl[dafl.index("--method") + 1] == "dafl" and ckpts in dafl
    assert dafl[dafl.index("--config") + 1].endswith("dafl/fashion_mnist_half_teachers.yaml")
    # one table and one target per method; rows of before the baseline count as amalgamation
    baseline = {**row, "method": "dafl", "ratio": 0.88}
    write_report({"rows": [low, baseline]}, tmp_path)
    text = (tmp_path / "amalgamation.md").read_text()
    ours, theirs = text.split("## `dafl`")
    assert "## `amalgamation`" in ours and "ten classes: MISSED" in ours
    assert "ten classes: met (mean 0.880" in theirs

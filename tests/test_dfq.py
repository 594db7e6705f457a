"""dfq (Choi et al. 2020): the generator's and the student's losses by hand on tiny tensors,
the generator step against a frozen quantized student, the quantized student through
train_dfkd (exact resume with the quantizers' state, student.pt, tools/export.py) and the
errors of bad settings."""
from __future__ import annotations

import math

import pytest
import torch
from conftest import TinyClassifier, assert_same_tensors, make_method, straight_and_resumed
from test_cli import dfkd_args

import dfkd.discriminator_distillation.methods  # noqa: F401  (registers dfq)
from dfkd.core.config import read_options
from dfkd.core.errors import ConfigError
from dfkd.data.specs import DatasetSpec
from dfkd.discriminator_distillation.methods.dfq import (
    DFQOptions,
    batch_entropy,
    bn_gaussian_kl,
    dfq_generator_loss,
    gaussian_kl,
    instance_entropy,
)
from dfkd.discriminator_distillation.train import main as train_dfkd
from dfkd.nets.quantize import quantize_student
from generators import build_generator

SPEC = DatasetSpec("tiny", 1, 8, 10, (0.0,), (1.0,))
QUANT8 = ["--set", "student.quantize.weight_bits=8", "--set", "student.quantize.activation_bits=8"]


def test_gaussian_kl_by_hand():
    # KL(N(1, 4) || N(0, 1)) = ½[log(1/4) + (4 + 1)/1 − 1]; KL(N(0, 1) || N(0, 1)) = 0
    got = gaussian_kl(torch.tensor([1.0, 0.0]), torch.tensor([4.0, 1.0]),
                      torch.tensor([0.0, 0.0]), torch.tensor([1.0, 1.0]))
    assert torch.allclose(got, torch.tensor([0.5 * (math.log(0.25) + 4.0), 0.0]))


def test_bn_gaussian_kl_is_the_channel_mean_of_batch_vs_running():
    # (N=2, C=2, 1x1): channel 0 holds 1, 3 (mean 2, biased var 1); channel 1 holds 0, 0
    x = torch.tensor([[1.0, 0.0], [3.0, 0.0]])[:, :, None, None]
    mean, var, eps = torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.5]), 0.5
    kl0 = 0.5 * (math.log(1.5 / 1.5) + (1.5 + 4.0) / 1.5 - 1)  # N(2, 1.5) vs N(0, 1.5)
    kl1 = 0.5 * (math.log(1.0 / 0.5) + 0.5 / 1.0 - 1)  # N(0, 0.5) vs N(0, 1.0)
    assert float(bn_gaussian_kl(x, mean, var, eps)) == pytest.approx((kl0 + kl1) / 2)


def test_entropies_and_generator_loss_by_hand():
    t = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])  # p = (.5, .5), (.75, .25)
    s = torch.zeros(2, 2)  # the student says (.5, .5) to both
    h1, h2 = math.log(2), -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert float(instance_entropy(t)) == pytest.approx((h1 + h2) / 2)
    hb = -(0.625 * math.log(0.625) + 0.375 * math.log(0.375))  # mean p = (.625, .375)
    assert float(batch_entropy(t)) == pytest.approx(hb)
    kl = (0 + 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)) / 2  # KL(t || s)
    o = DFQOptions(adversarial=2.0, bn=3.0, instance_entropy=0.5, batch_entropy=4.0)
    terms = dfq_generator_loss(t, s, torch.tensor(0.1), o)
    assert float(terms["kl"]) == pytest.approx(kl)
    expected = -2.0 * kl + 3.0 * 0.1 + 0.5 * (h1 + h2) / 2 - 4.0 * hb
    assert float(terms["loss"]) == pytest.approx(expected)


def build(student_bits: int | None = 8, **options):
    torch.manual_seed(0)
    teacher = TinyClassifier(width=4).eval()
    with torch.no_grad():  # running statistics away from N(0, 1), so the BN term is not ~0
        teacher.bn.running_mean.uniform_(-1, 1)
        teacher.bn.running_var.uniform_(0.5, 2.0)
    student = TinyClassifier(width=2)
    if student_bits:
        quantize_student(student, {"weight_bits": student_bits, "activation_bits": student_bits})
    generator = build_generator("dfad", 8, 4, 8, 1)
    method = make_method("dfq", teacher, student, generator, SPEC, options, nz=8, batch_size=6)
    return method, teacher, student


def test_generator_step_by_hand_with_a_frozen_quantized_student():
    method, teacher, student = build(8)
    student.train()(torch.randn(4, 1, 8, 8))  # the quantizers have a range
    ranges = {k: v.clone() for k, v in student.state_dict().items() if "min_val" in k}
    torch.manual_seed(1)
    terms = method.generator_loss(0)
    assert student.training  # eval mode only inside the step ...
    torch.manual_seed(1)
    images = method.sample()
    recorded = {}
    handle = teacher.bn.register_forward_pre_hook(lambda m, a: recorded.update(x=a[0]))
    t = teacher(images)
    handle.remove()
    with torch.no_grad():
        s = student.eval()(images)
    bn = bn_gaussian_kl(recorded["x"], teacher.bn.running_mean, teacher.bn.running_var,
                        teacher.bn.eps)
    expected = dfq_generator_loss(t, s, bn, DFQOptions())
    for key in ("kl", "bn", "instance_entropy", "batch_entropy", "loss"):
        assert torch.allclose(terms[key], expected[key], atol=1e-6), key
    assert float(terms["bn"]) > 0.01
    assert all(torch.equal(v, ranges[k]) for k, v in student.state_dict().items() if k in ranges)
    terms["loss"].backward()  # ... and G gets gradients through the fake quantizers
    assert all(p.grad is not None for p in method.generator.parameters() if p.requires_grad)


def test_student_steps_learn_kl_on_fresh_batches():
    method, teacher, student = build(None, temperature=2.0)
    torch.manual_seed(3)
    images, logits, _ = method.student_inputs(0)
    torch.manual_seed(3)
    assert torch.equal(images, method.sample().detach())
    assert torch.allclose(logits, teacher(images))
    loss = method.distill(images, logits, logits.argmax(1))
    log_s, log_t = torch.log_softmax(student(images) / 2, 1), torch.log_softmax(logits / 2, 1)
    by_hand = 4 * (log_t.exp() * (log_t - log_s)).sum(1).mean()
    assert float(loss["loss"]) == pytest.approx(float(by_hand), rel=1e-5)


def test_bn_term_needs_a_teacher_with_batchnorm():
    from dfkd.nets import build_model

    with pytest.raises(ConfigError, match="no BatchNorm layers.*options.bn: 0"):
        make_method("dfq", build_model("lenet5", 1, 10), build_model("lenet5_half", 1, 10),
                    build_generator("dfad", 8, 4, 32, 1), SPEC, nz=8, batch_size=4)
    with pytest.raises(ConfigError, match="method dfq: .*options.batch_entropy"):
        read_options(DFQOptions, {"batch_entropy": -1.0}, "dfq")


# -- the quantized student through train_dfkd --------------------------------------------------
def test_quantized_run_resumes_exactly_with_its_quantizer_state(bn_teacher, fake_data_root,
                                                                tmp_path):
    a, b = straight_and_resumed(
        lambda out, n: dfkd_args("dfq", bn_teacher, fake_data_root, out, n) + QUANT8,
        tmp_path, 4, 2)
    ta = assert_same_tensors(a, b)
    ranges = [k for k in ta if k.endswith("activation_post_process.activation_post_process.max_val")]
    assert ranges and all(float(ta[k]) != 0 for k in ranges)  # observed, and resumed as such
    assert any(k.endswith("/players/student/model/quantize_bits") for k in ta)


def test_quantized_student_file_exports_as_int8(bn_teacher, fake_data_root, tmp_path, capsys):
    from dfkd.nets.export_cli import main as export

    out = tmp_path / "run"
    assert train_dfkd(dfkd_args("dfq", bn_teacher, fake_data_root, out, 1) + QUANT8) == 0
    assert export(["--run", str(out), "--out", str(tmp_path / "exp"), "--formats", "int8"]) == 0
    printed = capsys.readouterr().out
    assert "int8:" in printed and "top-1 agreement" in printed and "FAILED" not in printed
    assert (tmp_path / "exp" / "student_int8.pt").exists()


def test_bad_bits_are_one_error_before_training(bn_teacher, fake_data_root, tmp_path):
    args = dfkd_args("dfq", bn_teacher, fake_data_root, tmp_path / "r", 1)
    with pytest.raises(ConfigError, match="student.quantize.weight_bits must be an integer from "
                                          "2 to 8 .*got 16"):
        train_dfkd(args + ["--set", "student.quantize.weight_bits=16"])
    assert not (tmp_path / "r" / "latest.pt").exists()


def test_bn_pair_rows_run_dfq_on_its_three_configs_and_report_the_target(tmp_path):
    from benchmarks.pairs import runs, targets
    from benchmarks.pairs.pair import BN_PAIR

    for row, config in (("dfq_float", "fashion_mnist.yaml"),
                        ("dfq_8bit", "fashion_mnist_8bit.yaml"),
                        ("dfq_4bit", "fashion_mnist_4bit.yaml")):
        cmd = runs.run_command(BN_PAIR, row, 0, tmp_path, None)
        assert cmd[cmd.index("--method") + 1] == "dfq"
        assert cmd[cmd.index("--config") + 1].endswith(f"configs/dfq/{config}")
    assert "--config" not in runs.run_command(BN_PAIR, "cmi", 0, tmp_path, None)

    def summary(acc, sd=0.0):
        return {"student_acc": acc, "student_acc_sd": sd}
    lines = targets.quantization_lines({"dfq_float": summary(70.0, 1.0),
                                        "dfq_8bit": summary(69.5), "dfq_4bit": summary(60.0)})
    assert lines[0].startswith("- dfq 8-bit student within 1 point of the float one: met")
    assert "0.50 points below the float one" in lines[0]
    assert "10.00 points below the float one" in lines[1]
    assert "1.16 points above the float one" in targets.quantization_lines(
        {"dfq_float": summary(70.88), "dfq_8bit": summary(72.04)})[0]
    assert "MISSED" in targets.quantization_lines({"dfq_float": summary(70.0),
                                                   "dfq_8bit": summary(68.9)})[0]

"""tools/train_kd.py (data-driven KD) and the student_loss block in data-free runs."""
import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, tiny_options
from torch.utils.data import TensorDataset

from dfkd.adversarial_kd import RealDataSetup
from dfkd.adversarial_kd.data_driven import DataDrivenKD, KDOptions
from dfkd.adversarial_kd.train import main as train_kd
from dfkd.core.errors import CheckpointError, ConfigError
from dfkd.core.registry import UnknownNameError
from dfkd.discriminator_distillation import METHODS
from dfkd.discriminator_distillation.train import main as train_dfkd
from dfkd.knowledge import StudentLoss


def kd_args(teacher, data_root, out, epochs, *extra):
    return ["--teacher-ckpt", str(teacher), "--data-root", str(data_root), "--out", str(out),
            "--epochs", str(epochs), "--batch-size", "32", "--set", "train.log_every=1", *extra]


def test_train_kd_runs_and_reports_time_per_epoch(teacher, fake_data_root, tmp_path, capsys):
    out = tmp_path / "kd"
    assert train_kd(kd_args(teacher, fake_data_root, out, 2, "--loss", "ce=1", "dkd=1", "at=100")) == 0
    printed = capsys.readouterr().out
    assert "student_acc=" in printed and "seconds_per_epoch=" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "kd" and metrics["student_loss"] == {"ce": 1.0, "dkd": 1.0, "at": 100.0}
    assert metrics["iters"] == 2 * (200 // 32) and metrics["epochs"] == 2
    assert [h["iteration"] for h in metrics["history"]] == [6, 12]  # one evaluation per epoch
    assert metrics["seconds_per_epoch"] > 0
    # the distilled student alone, loadable in one call, is the one measured
    from dfkd import load_student
    from dfkd.data import load_tensors
    from dfkd.metrics import accuracy

    student = load_student(out)
    test = load_tensors("fashion_mnist", str(fake_data_root), train=False)
    assert accuracy(student, test) == metrics["student_acc"]


def test_data_driven_kd_slots_the_critics_as_its_adversary(tiny_classifier):
    """``DataDrivenKD(teacher, student, adversary, options, data, setup)``: the loss is the
    setup's student_loss block, the adversary its critics (None without adversarial terms)."""
    teacher, student = tiny_classifier(), tiny_classifier()
    data = TensorDataset(torch.randn(8, 1, 8, 8), torch.arange(8) % 10)
    plain = StudentLoss({"ce": 1.0, "kd": 1.0}, teacher, student, data.tensors[0][:2])
    adversarial = StudentLoss({"kd": 1.0, "adversarial_logits": 0.5}, teacher, student,
                              data.tensors[0][:2])
    critics = adversarial.critics()

    def setup(knowledge):
        return RealDataSetup(4, 0, torch.device("cpu"), knowledge=knowledge)

    method = DataDrivenKD(teacher, student, None, KDOptions(), data, setup(plain))
    assert method.steps_per_epoch == 2 and {"ce", "kd", "loss"} <= set(method.student_loss(0))
    method = DataDrivenKD(teacher, student, critics, KDOptions(), data, setup(adversarial))
    assert method.critics is critics and "adversarial_logits/loss" in method.critic_loss(0)
    with pytest.raises(ValueError, match=r"adversary is its student_loss block's critics"):
        DataDrivenKD(teacher, student, None, KDOptions(), data, setup(adversarial))
    with pytest.raises(ValueError, match=r"adversary is its student_loss block's critics"):
        DataDrivenKD(teacher, student, critics, KDOptions(), data, setup(plain))
    with pytest.raises(ValueError, match=r"setup.knowledge"):
        DataDrivenKD(teacher, student, None, KDOptions(), data, setup(None))


def test_train_kd_resume_equals_straight_run(teacher, fake_data_root, tmp_path):
    extra = ("--loss", "ce=1", "fitnet=1", "crd=0.8", "--set", "student.schedule.horizon=18")
    straight, split = tmp_path / "straight", tmp_path / "split"
    train_kd(kd_args(teacher, fake_data_root, straight, 3, *extra))
    train_kd(kd_args(teacher, fake_data_root, split, 1, *extra))
    train_kd(kd_args(teacher, fake_data_root, split, 3, *extra, "--resume"))
    a = torch.load(straight / "latest.pt", weights_only=True)["players"]["student"]
    b = torch.load(split / "latest.pt", weights_only=True)["players"]["student"]
    assert any("contrast" in key for key in a["aux"])  # CRD's embeddings and queue are kept
    for part in ("model", "aux"):
        for key, value in a[part].items():
            assert torch.equal(value, b[part][key]), (part, key)


def test_train_kd_bad_input(teacher, fake_data_root, tmp_path):
    with pytest.raises(UnknownNameError, match="student loss term 'dkdd'"):
        train_kd(kd_args(teacher, fake_data_root, tmp_path / "a", 1, "--loss", "dkdd=1"))
    with pytest.raises(ConfigError, match="TERM=WEIGHT"):
        train_kd(kd_args(teacher, fake_data_root, tmp_path / "b", 1, "--loss", "kd"))
    with pytest.raises(ConfigError, match="mixup"):
        train_kd(kd_args(teacher, fake_data_root, tmp_path / "c", 1, "--set", "augment.mixup=1"))
    with pytest.raises(ConfigError, match="no config"):
        train_kd(kd_args(teacher, fake_data_root, tmp_path / "d", 1, "--dataset", "mnist"))


def test_old_knowledge_key_is_one_error_line_naming_the_new_one(fake_data_root, tmp_path):
    result = subprocess.run(
        [sys.executable, "tools/train_kd.py", "--set", "knowledge.crd_negatives=8192",
         "--out", str(tmp_path / "kd")],
        cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "DFKD_DATA": str(fake_data_root)})
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert result.stderr.rstrip().endswith("use 'knowledge.crd.negatives'")
    assert "knowledge.crd_negatives" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "kd").exists()


def test_new_knowledge_key_reaches_the_term(teacher, fake_data_root, tmp_path):
    out = tmp_path / "kd"
    assert train_kd(kd_args(teacher, fake_data_root, out, 1, "--loss", "ce=1", "crd=0.8",
                            "--set", "knowledge.crd.negatives=64",
                            "--set", "knowledge.crd.dim=16")) == 0
    aux = torch.load(out / "latest.pt", weights_only=True)["players"]["student"]["aux"]
    assert aux["knowledge.terms.crd.contrast.queue_s"].shape == (64, 16)
    saved = json.loads((out / "metrics.json").read_text())["config"]["knowledge"]["crd"]
    assert saved == {"dim": 16, "negatives": 64, "temperature": 0.07}


# amalgamation trains its student block by block with losses of its own: a block is one
# error line there (the test after this one)
@pytest.mark.parametrize("method", [m for m in METHODS.names() if m != "amalgamation"])
def test_every_data_free_method_takes_a_student_loss_block(method, method_teacher, fake_data_root,
                                                            tmp_path):
    teacher = method_teacher(method)
    out = tmp_path / method
    args = ["--method", method, "--teacher-ckpt", str(teacher), "--data-root", str(fake_data_root),
            "--out", str(out), "--iters", "2", "--batch-size", "16", "--set", "generator.ngf=4",
            "--set", "generator.nz=8", "--set", "train.log_every=1",
            # the block's plumbing is what is checked: one clipped student step per round
            # (CMI's SGD at 0.1 for 20 steps blows VID's variances up on this tiny run)
            "--set", "student.steps=1", "--set", "student.clip_grad=5",
            "--loss", "kd=1", "vid=1", "rkd_angle=50", *tiny_options(method)]
    assert train_dfkd(args) == 0
    state = torch.load(out / "latest.pt", weights_only=True)["players"]["student"]
    assert any(key.startswith("knowledge.terms.vid") for key in state["aux"])
    saved = json.loads((out / "metrics.json").read_text())["config"]["student_loss"]
    assert saved == {"kd": 1.0, "vid": 1.0, "rkd_angle": 50.0}


def test_amalgamation_refuses_a_student_loss_block(method_teacher, fake_data_root, tmp_path):
    args = ["--method", "amalgamation", "--teacher-ckpt", str(method_teacher("amalgamation")),
            "--data-root", str(fake_data_root), "--out", str(tmp_path / "a"), "--iters", "2",
            "--loss", "kd=1", *tiny_options("amalgamation")]
    with pytest.raises(ConfigError, match="drop the student_loss block"):
        train_dfkd(args)


def test_kd_block_at_tau_1_reproduces_dafl_exactly(teacher, fake_data_root, tmp_path):
    """DAFL's own student loss is KD with τ = 1: the block must give the same run."""
    base = ["--method", "dafl", "--teacher-ckpt", str(teacher), "--data-root",
            str(fake_data_root), "--iters", "3", "--batch-size", "16", "--set",
            "generator.ngf=4", "--set", "generator.nz=8"]
    train_dfkd(base + ["--out", str(tmp_path / "own")])
    train_dfkd(base + ["--out", str(tmp_path / "block"), "--loss", "kd=1",
                       "--set", "knowledge.temperature=1"])
    own = torch.load(tmp_path / "own" / "latest.pt", weights_only=True)["players"]["student"]
    block = torch.load(tmp_path / "block" / "latest.pt", weights_only=True)["players"]["student"]
    for key, value in own["model"].items():
        assert torch.equal(value, block["model"][key]), key


def test_resume_with_another_student_loss_is_a_clear_error(teacher, fake_data_root, tmp_path):
    out = tmp_path / "run"
    train_kd(kd_args(teacher, fake_data_root, out, 1, "--loss", "ce=1", "fitnet=1"))
    before = (out / "latest.pt").read_bytes()
    with pytest.raises(CheckpointError, match="student's saved state does not fit.*student_loss"):
        train_kd(kd_args(teacher, fake_data_root, out, 2, "--loss", "ce=1", "vid=1", "--resume"))
    assert (out / "latest.pt").read_bytes() == before  # the checkpoint is not lost


def test_epoch_order_is_a_pure_function_of_seed_and_iteration():
    from dfkd.data.epoch_order import EpochOrder
    a, b = EpochOrder(10, 3, seed=1), EpochOrder(10, 3, seed=1)
    epoch0 = torch.cat([a.indices(i) for i in range(3)])
    assert a.steps_per_epoch == 3 and len(set(epoch0.tolist())) == 9  # no repeats, tail dropped
    assert torch.equal(b.indices(4), a.indices(4))  # resumed mid-epoch: same batch
    assert not torch.equal(torch.cat([a.indices(i) for i in range(3, 6)]), epoch0)

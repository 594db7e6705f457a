"""Multi-process training (issue 8): torchrun with the gloo backend and 2 CPU processes."""
import json
import os
import subprocess
import sys

import torch
from conftest import ROOT

from dfkd.adversarial_kd.train import main as train_kd
from tests.test_cli import checkpoint_accuracy


def torchrun(tool, args, nproc=2):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", f"tools/{tool}.py", *args]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def kd_args(teacher, data_root, out):
    return ["--teacher-ckpt", str(teacher), "--data-root", str(data_root), "--out", str(out),
            "--epochs", "2", "--batch-size", "32", "--loss", "ce=1", "kd=1",
            "--set", "train.threads=1"]


def test_two_processes_take_the_single_process_step(teacher, fake_data_root, tmp_path):
    """Each process takes half of the same global batch and the gradients are averaged:
    for LeNet-5-half (no BatchNorm, no random views) that is the single-process step, up
    to the order of float sums."""
    result = torchrun("train_kd", kd_args(teacher, fake_data_root, tmp_path / "two"))
    assert "processes=2" in result.stdout
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["iters"] == 2 * (200 // 32)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert train_kd(kd_args(teacher, fake_data_root, tmp_path / "one")) == 0
    finally:
        torch.set_num_threads(before)
    two = torch.load(tmp_path / "two" / "latest.pt", weights_only=True)["players"]["student"]["model"]
    one = torch.load(tmp_path / "one" / "latest.pt", weights_only=True)["players"]["student"]["model"]
    for key, value in one.items():
        torch.testing.assert_close(two[key], value, atol=1e-5, rtol=1e-4, msg=key)
    assert len(list((tmp_path / "two" / "tb").glob("events.out.tfevents.*"))) == 1  # one writer


def test_data_free_run_on_two_processes(teacher, fake_data_root, tmp_path):
    out = tmp_path / "dfad"
    torchrun("train_dfkd", ["--method", "dfad", "--teacher-ckpt", str(teacher), "--data-root",
                            str(fake_data_root), "--out", str(out), "--iters", "3",
                            "--batch-size", "16", "--set", "generator.ngf=4",
                            "--set", "generator.nz=8", "--set", "train.threads=1"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["iters"] == 3
    # process 0 evaluated the student it saved, once, on the whole test set
    assert [h["iteration"] for h in metrics["history"]] == [3]
    assert metrics["student_acc"] == metrics["history"][-1]["acc"]
    assert metrics["student_acc"] == checkpoint_accuracy(out / "latest.pt", fake_data_root)


def test_batch_must_split_over_processes(monkeypatch):
    import pytest

    from dfkd.core.errors import ConfigError
    from dfkd.engine import distributed

    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    with pytest.raises(ConfigError, match="train.batch_size 16 does not split over 3 processes"):
        distributed.local_batch(16)
    assert distributed.local_batch(18) == 6

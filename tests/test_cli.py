"""Command-line tools end to end on tiny generated data."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_options

from dfkd.core.errors import CheckpointError, ConfigError, DatasetMissingError, DfkdError
from dfkd.discriminator_distillation import METHODS
from dfkd.discriminator_distillation.train import main as train_dfkd

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--set", "generator.ngf=4", "--set", "generator.nz=8", "--set", "train.eval_every=2",
        "--set", "train.log_every=1", "--set", "train.image_every=2", "--batch-size", "16"]


def dfkd_args(method, teacher, data_root, out, iters):
    return ["--method", method, "--teacher-ckpt", str(teacher), "--data-root", str(data_root),
            "--out", str(out), "--iters", str(iters), *TINY, *tiny_options(method)]


def method_config(method):
    """A data-free method's own config file (``configs/<method>/fashion_mnist.yaml``)."""
    from dfkd.cli import config_path
    from dfkd.core.config import build_config
    from dfkd.discriminator_distillation.config import DFKDConfig

    return build_config(DFKDConfig(), [config_path(method, "fashion_mnist")])


def checkpoint_accuracy(path, data_root):
    """Test accuracy (%) of the student saved in a run's checkpoint, recomputed: the
    averaged student where the run kept one (student.ema), else the raw weights."""
    from torch.optim.swa_utils import AveragedModel

    from dfkd.data import load_tensors
    from dfkd.metrics import accuracy
    from dfkd.nets import build_model

    metrics = json.loads((path.parent / "metrics.json").read_text())
    state = torch.load(path, weights_only=True)["players"]["student"]
    model = build_model(metrics["student"], 1, 10)
    if state.get("ema"):
        averaged = AveragedModel(model)
        averaged.load_state_dict(state["ema"])
        model = averaged.module
    else:
        model.load_state_dict(state["model"])
    return accuracy(model, load_tensors("fashion_mnist", data_root))


@pytest.mark.parametrize("method", METHODS.names())
def test_smoke_run_writes_metrics_and_logs(method, method_teacher, fake_data_root, tmp_path, capsys):
    teacher = method_teacher(method)
    out = tmp_path / "run"
    assert train_dfkd(dfkd_args(method, teacher, fake_data_root, out, 3)) == 0
    printed = capsys.readouterr().out
    assert "teacher_acc=" in printed and "student_acc=" in printed and "tensorboard" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("teacher_acc", "student_acc", "iters", "seconds", "method"):
        assert key in metrics
    assert metrics["iters"] == 3 and metrics["method"] == method
    # eval_every 2 of 3 iterations: evaluated at 2 and at the end
    history = metrics["history"]
    assert [h["iteration"] for h in history] == [2, 3]
    assert metrics["student_acc"] == history[-1]["acc"]
    assert metrics["student_acc"] == checkpoint_accuracy(out / "latest.pt", fake_data_root)
    assert metrics["best_student_acc"] == max(h["acc"] for h in history)
    assert metrics["best_student_acc"] == checkpoint_accuracy(out / "best.pt", fake_data_root)
    assert f"student_acc={metrics['student_acc']:.2f}" in printed
    assert any((out / "tb").iterdir())


@pytest.mark.parametrize("method", METHODS.names())
def test_cli_resume_equals_straight_run(method, method_teacher, fake_data_root, tmp_path):
    """With replay and augmentation on, so their state and random draws resume too."""
    teacher = method_teacher(method)
    extra = ["--set", "replay.capacity=40", "--set", "replay.policy=reservoir",
             "--set", "augment.crop_padding=2", "--set", "augment.flip=true",
             # a cosine schedule spans --iters unless its horizon is fixed (ZSKT's is cosine)
             "--set", "student.schedule.horizon=4", "--set", "generator.schedule.horizon=4"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    train_dfkd(dfkd_args(method, teacher, fake_data_root, straight, 4) + extra)
    train_dfkd(dfkd_args(method, teacher, fake_data_root, split, 2) + extra)
    train_dfkd(dfkd_args(method, teacher, fake_data_root, split, 4) + extra + ["--resume"])
    a = torch.load(straight / "latest.pt", weights_only=True)
    b = torch.load(split / "latest.pt", weights_only=True)
    assert b["iteration"] == 4
    assert b["method"]["replay"]["size"] == 40  # the buffer was built, filled and resumed
    assert torch.equal(a["method"]["replay"]["images"], b["method"]["replay"]["images"])
    history = json.loads((split / "metrics.json").read_text())["history"]
    assert [h["iteration"] for h in history] == [2, 4]
    assert history[-1]["acc"] == json.loads((straight / "metrics.json").read_text())["student_acc"]
    for player in ("student", "generator"):
        for key, value in a["players"][player]["model"].items():
            assert torch.equal(value, b["players"][player]["model"][key]), (player, key)


def test_occupied_run_folder_needs_resume(teacher, fake_data_root, tmp_path):
    out = tmp_path / "run"
    train_dfkd(dfkd_args("dafl", teacher, fake_data_root, out, 1))
    before = (out / "latest.pt").read_bytes()
    with pytest.raises(DfkdError, match="--resume"):
        train_dfkd(dfkd_args("dafl", teacher, fake_data_root, out, 1))
    assert (out / "latest.pt").read_bytes() == before  # nothing already saved is lost


def test_unknown_names_and_keys(teacher, fake_data_root, tmp_path):
    base = dfkd_args("dafl", teacher, fake_data_root, tmp_path / "r", 1)
    with pytest.raises(DfkdError, match="Did you mean 'dfad'"):
        train_dfkd(base + ["--method", "dfadd"])
    with pytest.raises(DfkdError, match="unknown model 'lenet6'"):
        train_dfkd(base + ["--student", "lenet6"])
    with pytest.raises(ConfigError, match="generator.ngff"):
        train_dfkd(base + ["--set", "generator.ngff=3"])
    with pytest.raises(ConfigError, match="'options.onehott' .did you mean 'options.onehot'"):
        train_dfkd(base + ["--set", "options.onehott=1"])


def test_wrong_teacher_checkpoint(teacher, fake_data_root, tmp_path):
    base = dfkd_args("dafl", teacher, fake_data_root, tmp_path / "r", 1)
    with pytest.raises(CheckpointError, match="lenet5_half"):
        train_dfkd(base + ["--teacher", "lenet5_half"])
    with pytest.raises(CheckpointError, match="no teacher checkpoint at .*nope.pt"):
        train_dfkd(base + ["--teacher-ckpt", str(tmp_path / "nope.pt")])


def test_missing_dataset(tmp_path):
    with pytest.raises(DatasetMissingError, match="not found"):
        train_dfkd(["--method", "dafl", "--dataset", "mnist", "--data-root", str(tmp_path),
                    "--teacher-ckpt", str(tmp_path / "t.pt"), "--config",
                    str(ROOT / "configs/dafl/mnist.yaml"), "--out", str(tmp_path / "r")])


def test_error_is_one_line_without_traceback(fake_data_root, tmp_path):
    result = subprocess.run(
        [sys.executable, "tools/train_dfkd.py", "--method", "dfadd", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "DFKD_DATA": str(fake_data_root)})
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown data-free method 'dfadd'")
    assert "Traceback" not in result.stderr


def test_cifar_style_networks_run_through_the_cli(fake_data_root, tmp_path):
    """The ResNet/WRN path used for CIFAR (here on 1-channel fake data, tiny batch; ResNet-8,
    whose file ResNet-18 shares: ResNet-18 takes ~30 s per evaluation on one core)."""
    from dfkd.nets import build_model, save_weights

    teacher_path = tmp_path / "wrn.pt"
    save_weights(build_model("wrn16_1", in_channels=1), teacher_path,
                 {"arch": "wrn16_1", "dataset": "fashion_mnist", "test_acc": 10.0})
    out = tmp_path / "run"
    assert train_dfkd(["--method", "dafl", "--teacher", "wrn16_1", "--student", "resnet8",
                       "--teacher-ckpt", str(teacher_path), "--data-root", str(fake_data_root),
                       "--out", str(out), "--iters", "1", *TINY]) == 0
    assert json.loads((out / "metrics.json").read_text())["teacher"] == "wrn16_1"


@pytest.mark.parametrize("method", METHODS.names())
def test_sample_grid_one_row_per_class(method, method_teacher, fake_data_root, tmp_path, capsys):
    teacher = method_teacher(method)
    from PIL import Image

    from dfkd.discriminator_distillation.sample import main as sample
    from generators import build_generator, is_conditional

    cfg = method_config(method)
    flags = ["--ema"] if cfg.generator.ema else []  # sample the momentum generator (MAD)
    conditional = is_conditional(build_generator(cfg.generator.model, 8, 4, 32, 1,
                                                   mean=(0.5,), std=(0.5,)))
    out = tmp_path / "run"
    train_dfkd(dfkd_args(method, teacher, fake_data_root, out, 1)
               + ["--set", "student.steps=1", "--set", "train.image_every=0"])
    png = tmp_path / "grid.png"
    assert sample([str(out), "--per-class", "3", "--out", str(png),
                   "--data-root", str(fake_data_root), *flags]) == 0
    width, height = Image.open(png).size
    cell = 32 + 2  # make_grid pads each 32x32 image by 2 pixels
    assert (width, height) == (3 * cell + 2, 10 * cell + 2)  # 3 per row, 10 class rows
    printed = capsys.readouterr().out
    assert ("asked class" in printed) == conditional  # CGDD's generator takes the class


def test_sample_rejects_ema_without_momentum_generator(teacher, fake_data_root, tmp_path):
    from dfkd.discriminator_distillation.sample import main as sample

    without = [m for m in METHODS.names() if not method_config(m).generator.ema]
    out = tmp_path / "run"
    train_dfkd(dfkd_args(without[0], teacher, fake_data_root, out, 1))
    with pytest.raises(DfkdError, match="drop --ema"):
        sample([str(out), "--ema", "--data-root", str(fake_data_root)])


def test_student_ema_is_the_evaluated_student(teacher, fake_data_root, tmp_path):
    from torch.optim.swa_utils import AveragedModel

    from dfkd.data import load_tensors
    from dfkd.metrics import accuracy
    from dfkd.nets import build_model

    out = tmp_path / "run"
    train_dfkd(dfkd_args("dfad", teacher, fake_data_root, out, 3)
               + ["--set", "student.ema=0.5", "--set", "train.eval_every=3"])
    state = torch.load(out / "latest.pt", weights_only=True)["players"]["student"]
    averaged = AveragedModel(build_model("lenet5_half", 1, 10))
    averaged.load_state_dict(state["ema"])
    raw = build_model("lenet5_half", 1, 10)
    raw.load_state_dict(state["model"])
    assert not all(torch.equal(a, b) for a, b in
                   zip(averaged.module.state_dict().values(), raw.state_dict().values()))
    test_set = load_tensors("fashion_mnist", fake_data_root)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["student_acc"] == accuracy(averaged.module, test_set)


def test_a_config_file_names_the_task_unless_task_is_given(tmp_path):
    import argparse

    from dfkd.cli import asked_task
    config = tmp_path / "c.yaml"
    config.write_text("task: sneaker2boot\n")
    ask = argparse.Namespace(task="edges2fashion", task_given=False, config=str(config))
    assert asked_task(ask) == "sneaker2boot"
    ask.task_given = True  # --task edges2fashion on the command line wins
    assert asked_task(ask) == "edges2fashion"
    config.write_text("student_ngf: 16\n")  # no task in the file: the tool's default
    assert asked_task(argparse.Namespace(task="edges2fashion", task_given=False,
                                         config=str(config))) == "edges2fashion"

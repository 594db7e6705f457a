"""Bad input (issue 8): every case gives one ``error:`` line naming the problem and the
fix, exit status 2, no traceback (``--debug`` shows it), and nothing already saved in the
run folder changes."""
import hashlib
import sys

import pytest
import torch
from conftest import ROOT
from PIL import Image

from dfkd.cli import run_main
from dfkd.discriminator_distillation.train import main as train_dfkd
from dfkd.nets import build_model, save_weights


@pytest.fixture(scope="module")
def files(teacher, fake_data_root, tmp_path_factory):
    """A finished run folder, and the checkpoints the cases pass."""
    root = tmp_path_factory.mktemp("bad")
    run = root / "run"
    assert train_dfkd(base(teacher, fake_data_root, run)) == 0
    (root / "garbage.pt").write_bytes(b"not a checkpoint at all")
    (root / "truncated.pt").write_bytes(teacher.read_bytes()[:500])
    save_weights(build_model("resnet20", in_channels=1, num_classes=10), root / "resnet20.pt",
                 {"arch": "resnet20", "dataset": "fashion_mnist"})
    save_weights(build_model("lenet5", in_channels=1, num_classes=100), root / "lenet5_c100.pt", {})
    save_weights(build_model("lenet5", in_channels=3, num_classes=10), root / "lenet5_rgb.pt", {})
    (root / "a_file").write_text("")
    small = root / "small"  # 16x16 images: too small for LeNet-5's three 5x5 convolutions
    for split in ("train", "test"):
        for k in range(10):
            (small / split / f"c{k}").mkdir(parents=True)
            Image.new("L", (16, 16), 20 * k).save(small / split / f"c{k}" / "0.png")
    (small / "spec.yaml").write_text("in_channels: 1\nimage_size: 16\n")
    torch.save(build_model("lenet5", in_channels=1, num_classes=10).state_dict(), root / "plain.pt")
    return {"root": root, "run": run, "teacher": teacher, "data": fake_data_root}


def base(teacher, data_root, out):
    return ["--method", "dafl", "--teacher-ckpt", str(teacher), "--data-root", str(data_root),
            "--out", str(out), "--iters", "2", "--batch-size", "16", "--set", "generator.ngf=4",
            "--set", "generator.nz=8"]


CASES = {  # name: (extra flags, with {root} for the fixture folder; what the line must say)
    "nonexistent checkpoint": (["--teacher-ckpt", "{root}/nope.pt"], "no teacher checkpoint at"),
    "corrupt checkpoint": (["--teacher-ckpt", "{root}/garbage.pt"], "not a readable PyTorch checkpoint"),
    "truncated checkpoint": (["--teacher-ckpt", "{root}/truncated.pt"], "truncated or corrupt"),
    "wrong architecture": (["--teacher-ckpt", "{root}/resnet20.pt"], "does not fit lenet5"),
    "wrong class count": (["--teacher-ckpt", "{root}/lenet5_c100.pt"], "does not fit lenet5"),
    "wrong image channels": (["--teacher-ckpt", "{root}/lenet5_rgb.pt"], "does not fit lenet5"),
    "wrong image size": (["--dataset", "imagefolder", "--data-root", "{root}/small",
                          "--teacher-ckpt", "{root}/plain.pt", "--config",
                          str(ROOT / "configs/dafl/fashion_mnist.yaml")],
                         "lenet5 expects 32x32 inputs, got 16x16: pad or resize"),
    # no configs/dafl/imagefolder.yaml: dafl's defaults for grey images are taken (a
    # printed line says which), so the run gets as far as the teacher's size check
    "images of one's own without a config": (["--dataset", "imagefolder", "--data-root",
                                               "{root}/small", "--teacher-ckpt", "{root}/plain.pt"],
                                              "lenet5 expects 32x32 inputs, got 16x16"),
    "unknown method": (["--method", "dfadd"], "unknown data-free method 'dfadd'"),
    "unknown model": (["--student", "lenet6"], "unknown model 'lenet6'"),
    "unknown dataset": (["--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    "unknown config key": (["--set", "train.iterz=3"], "unknown config key 'train.iterz'"),
    "unknown loss term": (["--loss", "kd=1", "dkdd=1"], "student loss term 'dkdd'"),
    "missing dataset": (["--dataset", "mnist", "--data-root", "{root}/empty", "--config",
                         str(ROOT / "configs/dafl/mnist.yaml")], "not found"),
    "unwritable output": (["--out", "{root}/a_file/run"], "cannot write to the run folder"),
    "another student than the run's": (["--student", "lenet5"], "was written by a run"),
    "another method than the run's": (["--method", "dfad"], "was written by a run"),
    "occupied run folder without --resume": (["--no-resume"], "already holds a run"),
}


def fingerprint(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("case", list(CASES))
def test_one_clear_line_and_nothing_lost(case, files, capsys):
    extra, expected = CASES[case]
    extra = [a.replace("{root}", str(files["root"])) for a in extra]
    # each case continues the finished run (--resume), where a bad input could do most harm
    extra = [a for a in extra if a != "--no-resume"] + ([] if "--no-resume" in extra else ["--resume"])
    (files["root"] / "empty").mkdir(exist_ok=True)
    before = fingerprint(files["run"])
    with pytest.raises(SystemExit) as exit_info:
        run_main(train_dfkd, base(files["teacher"], files["data"], files["run"]) + extra)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert expected in lines[0] and "Traceback" not in err
    assert fingerprint(files["run"]) == before  # latest.pt, best.pt, config.yaml, metrics


def test_debug_shows_the_traceback(files):
    args = base(files["teacher"], files["data"], files["root"] / "dbg") + ["--method", "dfadd", "--debug"]
    with pytest.raises(Exception, match="unknown data-free method 'dfadd'"):
        run_main(train_dfkd, args)


def test_a_model_too_deep_for_the_images_is_named_before_training():
    from dfkd.core.errors import ConfigError
    from dfkd.data.specs import DatasetSpec
    from dfkd.engine.run import check_input_size

    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 5), torch.nn.Conv2d(2, 2, 5),
                                torch.nn.Flatten(), torch.nn.LazyLinear(10)).train()
    with pytest.raises(ConfigError, match=r"the student net does not take 1×6×6 images \(.*\): "
                                          "resize the images"):
        check_input_size(model, "the student net", DatasetSpec("tiny", 1, 6, 10, (0.0,), (1.0,)), "cpu")
    assert model.training  # its mode is restored
    check_input_size(model, "the student net", DatasetSpec("tiny", 1, 9, 10, (0.0,), (1.0,)), "cpu")


def test_a_model_with_another_class_count_is_named_before_training():
    from dfkd.core.errors import ConfigError
    from dfkd.data.specs import DatasetSpec
    from dfkd.engine.run import check_input_size

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 7))
    with pytest.raises(ConfigError, match=r"the teacher net must return logits of shape "
                                          r"\(batch, 10\), returned \(1, 7\)"):
        check_input_size(model, "the teacher net", DatasetSpec("tiny", 1, 4, 10, (0.0,), (1.0,)), "cpu")


def test_a_saved_teacher_is_never_overwritten(files, capsys):
    sys.path.insert(0, str(ROOT / "tools"))
    from train_teacher import main as train_teacher

    before = files["teacher"].read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        run_main(train_teacher, ["--model", "lenet5", "--epochs", "1", "--data-root",
                                 str(files["data"]), "--out", str(files["teacher"])])
    assert exit_info.value.code == 2
    assert "already holds a teacher" in capsys.readouterr().err
    assert files["teacher"].read_bytes() == before

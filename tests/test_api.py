"""The library API: dfkd.data_free.distill and dfkd.generator_distillation.compress on
models of one's own, student.pt and dfkd.load_student, import-path models in configs,
tools/export.py on any run, and the README's example."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

import dfkd
from dfkd.core.errors import CheckpointError, ConfigError
from dfkd.metrics import accuracy
from dfkd.nets import save_weights

ROOT = Path(__file__).resolve().parent.parent
TINY = {"train": {"batch_size": 8, "eval_every": 2, "log_every": 2, "image_every": 0},
        "generator": {"ngf": 4, "nz": 8}}


class OwnNet(nn.Module):
    """A user's classifier, defined here (not importable by name from another process)."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, width, 3, padding=1)
        self.bn = nn.BatchNorm2d(width)
        self.fc = nn.Linear(4 * width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(nn.functional.adaptive_avg_pool2d(torch.relu(self.bn(self.conv(x))),
                                                         2).flatten(1))


def nets(seed: int = 0) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    return OwnNet(8), OwnNet(4)


def labelled(n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(n, 1, 12, 12, generator=gen), torch.arange(n) % 10


def distill(out: Path, iters: int, **kwargs) -> nn.Module:
    teacher, student = nets()
    return dfkd.data_free.distill(teacher, student, method="dafl", image_shape=(1, 12, 12),
                                  num_classes=10, iters=iters, out=out, config=TINY, **kwargs)


def test_a_user_class_goes_through_distillation_resume_and_export(tmp_path):
    test = labelled()
    whole = distill(tmp_path / "whole", 6, test_data=test)
    metrics = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    assert metrics["iters"] == 6 and isinstance(whole, OwnNet) and not whole.training
    # the returned student is the one measured: its accuracy is the run's final figure
    assert accuracy(whole, TensorDataset(*test)) == pytest.approx(metrics["student_acc"])

    distill(tmp_path / "split", 3, test_data=test)
    resumed = distill(tmp_path / "split", 6, test_data=test, resume=True)
    history = json.loads((tmp_path / "split" / "metrics.json").read_text())["history"]
    assert [h["iteration"] for h in history] == [2, 3, 4, 6]  # continued, not restarted
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), f"resumed run differs from the uninterrupted one at {name}"

    loaded = dfkd.load_student(tmp_path / "whole", model=OwnNet(4))
    x = torch.rand(3, 1, 12, 12)
    assert torch.equal(loaded(x), whole(x))
    with pytest.raises(CheckpointError, match=r"holds a .*:OwnNet whose constructor arguments "
                                              r"were not recorded: pass model=OwnNet\(\.\.\.\)"):
        dfkd.load_student(tmp_path / "whole")
    results = dfkd.export(loaded, torch.rand(1, 1, 12, 12), tmp_path / "exported",
                          ("torchscript",))
    assert results["torchscript"]["ok"] and results["torchscript"]["max_abs_diff"] < 1e-4


def test_without_test_data_the_run_reports_what_needs_no_labels(tmp_path, capsys):
    distill(tmp_path / "run", 2)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    last = metrics["history"][-1]
    assert "acc" not in last and {"early_bank_acc", "class_entropy"} <= set(last)
    assert metrics["teacher_acc"] is None and metrics["best_student_acc"] is not None
    assert "(no test set)" in capsys.readouterr().out


@pytest.mark.parametrize("call, message", [
    (dict(image_shape=(1, 12)), r"image_shape must be \(channels, height, width\)"),
    (dict(image_shape=(1, 12, 10)), "the generators make square images"),
    (dict(num_classes=7), r"the teacher OwnNet must return logits of shape \(batch, 7\)"),
    (dict(method="nosuch"), "unknown data-free method 'nosuch'"),
    (dict(options={"nosuch": 1}), "method dafl: unknown config key 'options.nosuch'"),
    (dict(test_data=(torch.rand(4, 1, 8, 8), torch.zeros(4, dtype=torch.long))),
     r"test_data images are \(1, 8, 8\)"),
])
def test_bad_calls_are_one_clear_error(tmp_path, call, message):
    teacher, student = nets()
    kwargs = {**dict(method="dafl", image_shape=(1, 12, 12), num_classes=10, iters=2,
                     out=tmp_path / "run", config=TINY), **call}
    with pytest.raises(Exception, match=message) as info:
        dfkd.data_free.distill(teacher, student, **kwargs)
    assert isinstance(info.value, dfkd_error())
    assert not (tmp_path / "run" / "latest.pt").exists()


def dfkd_error():
    from dfkd.core.errors import DfkdError
    return DfkdError


MODULE = '''
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width, num_classes=10):
        super().__init__()
        self.conv = nn.Conv2d(1, width, 5, stride=4)
        self.fc = nn.Linear(width * 49, num_classes)  # 32x32 images -> 7x7 maps

    def forward(self, x):
        return self.fc(self.conv(x).relu().flatten(1))
'''


@pytest.fixture
def own_package(tmp_path):
    """``ownpkg.nets:Net`` on PYTHONPATH, and a teacher file of it."""
    pkg = tmp_path / "lib" / "ownpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(MODULE)
    sys.path.insert(0, str(tmp_path / "lib"))
    from ownpkg.nets import Net

    torch.manual_seed(0)
    save_weights(Net(width=6), tmp_path / "teacher.pt", {})
    yield tmp_path
    sys.path.remove(str(tmp_path / "lib"))
    for name in [m for m in sys.modules if m.startswith("ownpkg")]:
        del sys.modules[name]


def run_tool(script: str, args: list[str], lib: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(lib), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, f"tools/{script}", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)


def test_import_path_models_in_a_config_then_export_of_the_run(own_package, fake_data_root):
    tmp = own_package
    config = tmp / "own.yaml"
    config.write_text(textwrap.dedent(f"""\
        teacher: {{class: "ownpkg.nets:Net", kwargs: {{width: 6}}, ckpt: "{tmp / 'teacher.pt'}"}}
        student: {{model: {{class: "ownpkg.nets:Net", kwargs: {{width: 2}}}}}}
        generator: {{ngf: 4, nz: 8}}
        train: {{iters: 2, batch_size: 8, eval_every: 2, image_every: 0}}
        """))
    done = run_tool("train_dfkd.py", ["--method", "dafl", "--config", str(config), "--data-root",
                                      str(fake_data_root), "--out", str(tmp / "run")], tmp / "lib")
    assert done.returncode == 0, done.stderr
    meta = torch.load(tmp / "run" / "student.pt", weights_only=True)["meta"]
    assert meta["arch"] == "ownpkg.nets:Net" and meta["kwargs"] == {"width": 2}
    student = dfkd.load_student(tmp / "run")  # rebuilt by import path, no model= needed
    assert type(student).__name__ == "Net" and student.conv.out_channels == 2

    exported = run_tool("export.py", ["--run", str(tmp / "run"), "--out", str(tmp / "exp"),
                                      "--formats", "torchscript"], tmp / "lib")
    assert exported.returncode == 0, exported.stderr
    assert "torchscript:" in exported.stdout and " ok" in exported.stdout
    assert (tmp / "exp" / "student.pt").exists()


@pytest.mark.parametrize("teacher, message", [
    ("{class: 'nopkg.nets:Net', ckpt: x.pt}", "cannot import 'nopkg.nets' for the model "
                                              "nopkg.nets:Net"),
    ("{class: 'ownpkg.nets:Nope', ckpt: x.pt}", "module 'ownpkg.nets' has no 'Nope'"),
    ("{class: 'ownpkg.nets:Net', kwargs: {depth: 3}, ckpt: x.pt}",
     r"ownpkg.nets:Net\(depth=3\) failed: .*; fix its kwargs"),
    ("{class: 'ownpkg.nets:Net', weights: x.pt}", "config key 'teacher': unknown entry 'weights'"),
    ("{class: 'ownpkg.nets:Net', kwargs: {width: 6}}", "the teacher ownpkg.nets:Net needs its "
                                                       "weights"),
    ("{class: 'ownpkg.nets:Net', kwargs: {width: 6}, ckpt: nope.pt}",
     "no teacher checkpoint at nope.pt: give the weights file of your ownpkg.nets:Net"),
    ("{class: 'ownpkg.nets:Net', kwargs: {width: 5}, ckpt: TEACHER}",
     "TEACHER does not fit ownpkg.nets:Net"),
])
def test_import_path_mistakes_are_one_error_line(own_package, fake_data_root, teacher, message,
                                                capsys):
    from dfkd.cli import run_main
    from dfkd.discriminator_distillation.train import main

    config = own_package / "bad.yaml"
    teacher = teacher.replace("TEACHER", str(own_package / "teacher.pt"))
    message = message.replace("TEACHER", re.escape(str(own_package / "teacher.pt")))
    config.write_text(f"teacher: {teacher}\ntrain: {{iters: 1}}\n")
    with pytest.raises(SystemExit) as exit_:
        run_main(main, ["--method", "dafl", "--config", str(config), "--data-root",
                        str(fake_data_root), "--out", str(own_package / "r")])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert re.search(message, lines[0]), lines[0]


def test_a_zoo_run_writes_a_student_that_loads_in_one_call(teacher, fake_data_root, tmp_path):
    from dfkd.data import load_tensors
    from dfkd.discriminator_distillation.train import main

    assert main(["--method", "dfad", "--teacher-ckpt", str(teacher), "--data-root",
                 str(fake_data_root), "--out", str(tmp_path / "run"), "--iters", "2",
                 "--batch-size", "8", "--set", "generator.ngf=4", "--set", "generator.nz=8",
                 "--set", "train.image_every=0"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    student = dfkd.load_student(tmp_path / "run" / "student.pt")
    assert type(student).__name__ == "LeNet5" and not student.training
    test = load_tensors("fashion_mnist", str(fake_data_root), train=False)
    assert accuracy(student, test) == pytest.approx(metrics["student_acc"])
    assert metrics["student_file"] == str(tmp_path / "run" / "student.pt")


def test_load_student_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no student file at .*student.pt"):
        dfkd.load_student(tmp_path)


def test_compress_a_generator_of_ones_own_on_ones_own_images(tmp_path):
    from generators.pix2pix import define_G

    torch.manual_seed(0)
    teacher = define_G("resnet_6blocks", 1, 1, ngf=8, norm="batch")
    gen = torch.Generator().manual_seed(2)
    x, y = (torch.rand(12, 1, 32, 32, generator=gen) * 2 - 1 for _ in range(2))
    config = {"train": {"batch_size": 4, "eval_every": 2, "image_every": 0, "log_every": 2,
                        "eval_pairs": 4}}
    student = dfkd.generator_distillation.compress(teacher, student_ngf=4, inputs=x, targets=y,
                                                   iters=2, out=tmp_path / "run", config=config)
    assert student(x[:2]).shape == (2, 1, 32, 32)
    assert student.model[1].out_channels == 4  # the stem conv of a resnet generator, ngf 4
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["iters"] == 2 and "psnr_teacher" in metrics and "psnr" not in metrics
    assert (tmp_path / "run" / "latest_net_G.pth").exists()
    with pytest.raises(ConfigError, match=r"images of \(1, 16, 16\) are too small"):
        dfkd.generator_distillation.compress(teacher, student_ngf=4, inputs=x[:, :, :16, :16],
                                             targets=y[:, :, :16, :16], iters=2,
                                             out=tmp_path / "small", config=config)
    with pytest.raises(ConfigError, match="paired images need as many targets as inputs"):
        dfkd.generator_distillation.compress(teacher, inputs=x, targets=y[:5], iters=2,
                                             out=tmp_path / "pairs", config=config)


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- python-api-example[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert block, "README.md lost its Python API example"
    return block.group(1)


def test_the_readme_example_runs(tmp_path, monkeypatch):
    code = readme_example()
    assert "iters=200" in code
    monkeypatch.chdir(tmp_path)
    # the example as written, shortened: 2 iterations of a small batch
    code = code.replace("iters=200", "iters=2, config={'train': {'batch_size': 16}}")
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(code, "README.md", "exec"), namespace)
    assert (tmp_path / "runs" / "my_student" / "student.pt").exists()
    assert (tmp_path / "runs" / "my_student" / "exported" / "student.pt").exists() or any(
        (tmp_path / "runs" / "my_student" / "exported").glob("*.pt"))
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(namespace["same"](x), namespace["student"](x))


def test_the_public_names_are_listed_and_documented():
    for name in dfkd.__all__:
        value = getattr(dfkd, name)
        assert name == "__version__" or value.__doc__, f"dfkd.{name} has no docstring"
    assert dfkd.data_free.distill.__annotations__["return"] in ("nn.Module", nn.Module)
    assert callable(dfkd.generator_distillation.compress)

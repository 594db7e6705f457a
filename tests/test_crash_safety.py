"""Crash safety (issue 8): SIGKILL mid-run then --resume equals a straight run for every
training tool; a corrupt latest.pt falls back to previous.pt; divergence stops the run
before the step and never overwrites the last good checkpoint."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import ROOT

from dfkd.adversarial_kd.train import main as train_kd
from dfkd.adversarial_kd.train_afd import main as train_afd
from dfkd.core.errors import CorruptCheckpointError
from dfkd.discriminator_distillation.train import main as train_dfkd
from dfkd.engine import AdversarialLoop, DivergenceError
from dfkd.gan_teachers.train import main as train_gan
from dfkd.generator_distillation.train import main as compress_gan
from tests.test_loop import build

sys.path.insert(0, str(ROOT / "tools"))
from train_teacher import main as train_teacher  # noqa: E402

TOOLS = {"train_teacher": train_teacher, "train_kd": train_kd, "train_dfkd": train_dfkd,
         "train_gan": train_gan, "compress_gan": compress_gan, "train_afd": train_afd}
RUN_FOLDER_FLAG = {"train_teacher": "--run-dir"}  # its --out is the teacher file


def players(out):
    return torch.load(out / "latest.pt", weights_only=True)["players"]


def assert_same_players(a, b):
    assert set(a) == set(b)
    for name in a:
        for part in ("model", "aux", "ema"):
            for key, value in (a[name][part] or {}).items():
                assert torch.equal(value, b[name][part][key]), (name, part, key)


def kill_after_first_checkpoint(tool: str, args: list[str], out) -> int:
    """Run ``tool`` in a child process and SIGKILL it once latest.pt is on disk; returns
    the iteration that checkpoint holds."""
    flag = RUN_FOLDER_FLAG.get(tool, "--out")
    child = subprocess.Popen([sys.executable, f"tools/{tool}.py", *args, flag, str(out)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while not (out / "latest.pt").exists():
        assert child.poll() is None, f"{tool} ended before its first checkpoint: {child.stderr.read()}"
        assert time.time() < deadline, f"{tool} wrote no checkpoint in 120 s"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL, f"{tool} finished before the kill: make it longer"
    return torch.load(out / "latest.pt", weights_only=True)["iteration"]


def gan_run(data_root):
    """Flags both image-to-image tools take: tiny batches, frequent checkpoints, no FID,
    constant learning rates."""
    return ["--data-root", str(data_root), "--set", "ndf=4", "--set", "train.batch_size=8",
            "--set", "train.eval_every=2", "--set", "train.eval_pairs=8",
            "--set", "fid.classifier=", "--set", "discriminator.schedule.name=constant"]


def gan_args(data_root, *extra):
    return [*gan_run(data_root), "--set", "netG=resnet_6blocks", "--set", "ngf=4",
            "--set", "generator.schedule.name=constant", *extra]


@pytest.fixture(scope="module")
def pix2pix_teacher(fake_data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("p2p")
    train_gan([*gan_args(fake_data_root), "--iters", "2", "--out", str(out)])
    return out / "latest_net_G.pth"


def cases(teacher, data_root, pix2pix_teacher):
    """tool -> (arguments for a run long enough to be killed, its total iterations)."""
    kd = ["--teacher-ckpt", str(teacher), "--data-root", str(data_root), "--batch-size", "32",
          "--set", "student.schedule.horizon=200", "--set", "train.threads=1"]
    return {
        "train_teacher": (["--model", "lenet5", "--epochs", "30", "--data-root", str(data_root)],
                          180),
        "train_kd": ([*kd, "--epochs", "30", "--loss", "ce=1", "kd=1", "adversarial_logits=0.5"], 180),
        "train_dfkd": (["--method", "dfad", *kd[:4], "--batch-size", "16", "--iters", "60",
                        "--set", "generator.ngf=4", "--set", "generator.nz=8",
                        "--set", "train.eval_every=5", "--set", "train.threads=1"], 60),
        "train_gan": ([*gan_args(data_root), "--iters", "40", "--set", "train.threads=1"], 40),
        "compress_gan": ([*gan_run(data_root), "--teacher-ckpt", str(pix2pix_teacher),
                          "--iters", "40", "--set", "student_ngf=2",
                          "--set", "student.schedule.name=constant", "--set", "train.threads=1"], 40),
        "train_afd": (["--data-root", str(data_root), "--epochs", "30", "--batch-size", "32",
                       "--set", "peer.schedule.horizon=200", "--set", "train.threads=1"], 180),
    }


@pytest.fixture
def one_thread():
    """The killed child runs with one thread: so do the resumed and straight runs here
    (another thread count may sum in another order and differ in the last bits)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("tool", list(TOOLS))
def test_sigkill_then_resume_equals_straight_run(tool, teacher, fake_data_root, pix2pix_teacher,
                                                 tmp_path, one_thread):
    args, total = cases(teacher, fake_data_root, pix2pix_teacher)[tool]
    flag = RUN_FOLDER_FLAG.get(tool, "--out")

    def teacher_file(run):  # train_teacher's --out is its teacher file, one per run
        return ["--out", str(tmp_path / f"{run}.pt")] if tool == "train_teacher" else []
    killed = kill_after_first_checkpoint(tool, [*args, *teacher_file("killed")], tmp_path / "killed")
    assert 0 < killed < total
    assert TOOLS[tool]([*args, *teacher_file("killed"), flag, str(tmp_path / "killed"),
                        "--resume"]) == 0
    assert TOOLS[tool]([*args, *teacher_file("straight"), flag, str(tmp_path / "straight")]) == 0
    assert_same_players(players(tmp_path / "straight"), players(tmp_path / "killed"))


# -- the loop's own guards --------------------------------------------------------------
def test_previous_checkpoint_is_kept_and_used_when_latest_is_corrupt(tmp_path, capsys):
    from dfkd.engine.run_folder import resume_if_asked

    _, _, _, gp, sp, m = build("dfad")
    AdversarialLoop(m, sp, gp, 4, tmp_path, eval_every=2).run()
    assert torch.load(tmp_path / "previous.pt", weights_only=True)["iteration"] == 2
    assert torch.load(tmp_path / "latest.pt", weights_only=True)["iteration"] == 4
    (tmp_path / "latest.pt").write_bytes((tmp_path / "latest.pt").read_bytes()[:1000])  # truncated
    _, _, _, gp, sp, m = build("dfad")
    loop = AdversarialLoop(m, sp, gp, 4, tmp_path, eval_every=2)
    resume_if_asked(loop, tmp_path, True)
    assert loop.iteration == 2
    assert "latest.pt is not a readable PyTorch checkpoint" in capsys.readouterr().err
    (tmp_path / "previous.pt").write_bytes(b"garbage")
    with pytest.raises(CorruptCheckpointError, match="previous.pt is not a readable"):
        resume_if_asked(loop, tmp_path, True)


def test_non_finite_gradient_stops_before_the_step(tmp_path):
    _, student, _, gp, sp, m = build("dfad")
    # a finite loss (0) whose gradient is 0·∞ = NaN
    m.student_loss = lambda it: {"loss": torch.sqrt(0 * sum(p.pow(2).sum() for p in student.parameters()))}
    before = [p.detach().clone() for p in student.parameters()]
    loop = AdversarialLoop(m, sp, gp, 3, tmp_path)
    with pytest.raises(DivergenceError, match=r"student gradient of conv.weight is not finite at "
                                              r"iteration 0 .*latest.pt: continue it with --resume"):
        loop.run()
    assert all(torch.equal(a, b) for a, b in zip(before, student.parameters()))


def test_non_finite_weights_are_never_checkpointed(tmp_path):
    _, student, _, gp, sp, m = build("dfad")
    loop = AdversarialLoop(m, sp, gp, 4, tmp_path, eval_every=2)
    loop.total_iters = 2
    loop.run()
    student.bn.running_var.fill_(float("nan"))
    loop.total_iters = 4
    with pytest.raises(DivergenceError, match="student bn.running_var holds NaN/Inf at iteration 4"):
        loop.run()
    assert torch.load(tmp_path / "latest.pt", weights_only=True)["iteration"] == 2

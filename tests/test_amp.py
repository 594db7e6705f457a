"""Mixed precision (issue 8): ``--amp`` runs every loss under autocast (bfloat16 on CPU,
float16 with a loss scaler per player on CUDA)."""
import json

import torch

from dfkd.adversarial_kd.train import main as train_kd
from dfkd.engine import AdversarialLoop
from tests.test_cli import checkpoint_accuracy
from tests.test_loop import build
from tests.test_train_kd import kd_args


def test_losses_run_under_autocast_on_cpu(tmp_path):
    _, student, _, gp, sp, m = build("dfad")
    seen = []
    original = m.student_loss

    def student_loss(it):
        seen.append(student.fc(torch.zeros(2, student.fc.in_features)).dtype)
        return original(it)
    m.student_loss = student_loss
    loop = AdversarialLoop(m, sp, gp, 2, tmp_path, amp=True)
    assert loop.scalers == {}  # bfloat16 needs no loss scaling
    loop.run()
    assert seen and all(dtype == torch.bfloat16 for dtype in seen)
    assert all(p.dtype == torch.float32 for p in student.parameters())  # weights stay float32
    seen.clear()
    AdversarialLoop(m, sp, gp, 1, tmp_path / "off").run()
    assert seen == [torch.float32] * 2  # without amp; student.steps = 2


def test_amp_flag_through_the_cli(teacher, fake_data_root, tmp_path):
    out = tmp_path / "kd"
    assert train_kd(kd_args(teacher, fake_data_root, out, 1, "--amp")) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["train"]["amp"] is True
    # trained under autocast, measured (and saved) in float32: the saved student gives it
    assert metrics["student_acc"] == metrics["history"][-1]["acc"]
    assert metrics["student_acc"] == checkpoint_accuracy(out / "latest.pt", fake_data_root)

"""dfkd.nets.export and tools/export.py: TorchScript and ONNX round trips."""
import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dfkd.core.errors import DfkdError
from dfkd.nets.export import export_and_check, max_difference
from generators.gan_checkpoint import save_pix2pix_state
from generators.pix2pix import define_G

ROOT = Path(__file__).resolve().parent.parent


def small_generator():
    torch.manual_seed(0)
    return define_G("resnet_6blocks", 1, 1, ngf=4, norm="batch")


def test_torchscript_round_trip_at_another_batch_size(tmp_path):
    model = small_generator().eval()
    results = export_and_check(model, torch.randn(1, 1, 16, 16), tmp_path, ("torchscript",))
    assert results["torchscript"]["ok"] and results["torchscript"]["max_abs_diff"] < 1e-5
    # the check itself can fail: against a model with a shifted output it reports the shift
    other = copy.deepcopy(model)
    with torch.no_grad():
        other.model[-2].bias.add_(0.5)  # the last conv, before Tanh
    assert max_difference("torchscript", results["torchscript"]["path"], other,
                          torch.randn(2, 1, 16, 16)) > 1e-3


def test_onnx_round_trip_with_dynamic_batch(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model = small_generator().eval()
    results = export_and_check(model, torch.randn(1, 1, 16, 16), tmp_path, ("onnx",))
    assert results["onnx"]["ok"], results
    assert Path(results["onnx"]["path"]).exists()


def test_unknown_format_is_a_clear_error(tmp_path):
    with pytest.raises(DfkdError, match="unknown export format 'tflite'"):
        export_and_check(small_generator(), torch.randn(1, 1, 16, 16), tmp_path, ("tflite",))


def test_export_tool_on_an_original_layout_file(tmp_path):
    ckpt = tmp_path / "latest_net_G.pth"
    save_pix2pix_state(small_generator(), ckpt)
    done = subprocess.run([sys.executable, "tools/export.py", "--ckpt", str(ckpt), "--size", "16",
                           "--out", str(tmp_path / "out"), "--formats", "torchscript"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "torchscript:" in done.stdout and "ok" in done.stdout
    assert (tmp_path / "out" / "latest_net_G.pt").exists()

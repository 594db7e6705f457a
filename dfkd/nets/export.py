"""Export a trained network to TorchScript and ONNX, and check the exported copies.

Each export is run again on a batch of another size than the one it was traced with, and
its output compared with PyTorch's: an export that only works at the traced batch size, or
that drifts numerically, fails the check instead of failing in deployment. ONNX needs the
``export`` extra (``pip install -e '.[export]'``: onnx, onnxscript, onnxruntime).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from dfkd.core.errors import DfkdError

FORMATS = ("torchscript", "onnx")


def export_torchscript(model: nn.Module, example: torch.Tensor, path: str | Path) -> Path:
    """``torch.jit.trace`` of ``model`` in eval mode, saved to ``path``."""
    path = Path(path)
    with torch.no_grad():
        torch.jit.trace(model.eval(), example).save(str(path))
    return path


def export_onnx(model: nn.Module, example: torch.Tensor, path: str | Path) -> Path:
    """ONNX through torch.export (PyTorch's default exporter), with a dynamic batch axis;
    input ``input``, output ``output``."""
    _need("onnxscript")
    path = Path(path)
    batch = torch.export.Dim("batch", min=1, max=4096)
    program = torch.onnx.export(model.eval(), (example,), dynamo=True, input_names=["input"],
                                output_names=["output"], dynamic_shapes=({0: batch},),
                                verbose=False)
    program.save(str(path))
    return path


def _need(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise DfkdError(f"ONNX export needs {module}: pip install -e '.[export]' "
                        "(onnx, onnxscript, onnxruntime)") from None


@torch.no_grad()
def max_difference(fmt: str, path: str | Path, model: nn.Module, inputs: torch.Tensor) -> float:
    """Largest absolute difference between the exported copy's and ``model``'s outputs."""
    expected = model.eval()(inputs)
    if fmt == "torchscript":
        got = torch.jit.load(str(path))(inputs)
    elif fmt == "onnx":
        _need("onnxruntime")
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = torch.from_numpy(session.run(None, {"input": inputs.cpu().numpy()})[0])
    else:
        raise DfkdError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    return float((got.to(expected) - expected).abs().max())


def export_and_check(model: nn.Module, example: torch.Tensor, out_dir: str | Path,
                     formats: tuple[str, ...] = FORMATS, atol: float = 1e-4,
                     name: str = "model") -> dict[str, dict]:
    """Export ``model`` in each format to ``out_dir/<name>.{pt,onnx}`` and check it on a
    batch of ``len(example) + 1`` random inputs: ``{format: {path, max_abs_diff, ok}}``."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise DfkdError(f"unknown export format {unknown[0]!r}; use one of: {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    example = example.cpu()
    check = torch.randn(len(example) + 1, *example.shape[1:],
                        generator=torch.Generator().manual_seed(0))
    results = {}
    for fmt in formats:
        suffix = ".pt" if fmt == "torchscript" else ".onnx"
        exporter = export_torchscript if fmt == "torchscript" else export_onnx
        path = exporter(model, example, out_dir / f"{name}{suffix}")
        diff = max_difference(fmt, path, model, check)
        results[fmt] = {"path": str(path), "max_abs_diff": diff, "ok": diff <= atol}
    return results

"""Export a trained network to TorchScript and ONNX, and check the exported copies.

Each export is run again on a batch of another size than the one it was traced with, and
its output compared with PyTorch's: an export that only works at the traced batch size, or
that drifts numerically, fails the check instead of failing in deployment. ONNX needs the
``export`` extra (``pip install -e '.[export]'``: onnx, onnxscript, onnxruntime).

A fake-quantized student (``student.quantize``, :mod:`dfkd.nets.quantize`) has its own
export, :func:`export_quantized`: TorchScript of the fake-quant model, and a real int8 model
(``torch.ao.quantization.convert``, qnnpack engine) where its bits are 8, each checked
against the fake-quant model.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch
import torch.ao.nn.quantized as nnq
import torch.nn as nn

from dfkd.core.errors import DfkdError
from dfkd.nets.quantize import (
    INPUT_QUANTIZER,
    freeze_observers,
    is_quantized,
    output_quantizer,
    quiet_quantization,
)

FORMATS = ("torchscript", "onnx")


def export_torchscript(model: nn.Module, example: torch.Tensor, path: str | Path,
                       check_trace: bool = True) -> Path:
    """``torch.jit.trace`` of ``model`` in eval mode, saved to ``path`` (``check_trace``:
    torch's own re-run of the trace, skipped where the caller checks the copy itself)."""
    path = Path(path)
    with torch.no_grad():
        torch.jit.trace(model.eval(), example, check_trace=check_trace).save(str(path))
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


# -- quantized students (dfkd.nets.quantize) ---------------------------------------------------
QUANTIZED_FORMATS = ("fakequant", "int8")
INT8_ENGINE = "qnnpack"  # x86/fbgemm saturate full 8-bit activations (they want reduce_range)
INT8_STEPS = 4.0  # int8 vs fake-quant tolerance, in quantization steps of the logits


@contextmanager
def quantized_engine(name: str = INT8_ENGINE) -> Iterator[None]:
    """``torch.backends.quantized.engine`` set to ``name`` inside the block."""
    if name not in torch.backends.quantized.supported_engines:
        raise DfkdError(f"this PyTorch build has no {name} quantized engine (it has "
                        f"{', '.join(torch.backends.quantized.supported_engines)}): export "
                        "--formats fakequant")
    saved = torch.backends.quantized.engine
    torch.backends.quantized.engine = name
    try:
        yield
    finally:
        torch.backends.quantized.engine = saved


def int8_model(model: nn.Module) -> nn.Module:
    """A real int8 copy of a fake-quantized ``model`` (8-bit weights and activations):
    ``torch.ao.quantization.convert`` of its QAT layers, between a Quantize with its input
    quantizer's scale and zero point and a DeQuantize. Eager-mode convert runs every other
    op of ``forward`` on quantized tensors: a model that adds tensors (``+``, residual
    blocks) cannot be converted; it is one DfkdError line (export its fake-quant copy)."""
    spec = getattr(model, "quantize_spec", None)
    if not is_quantized(model) or spec is None:
        raise DfkdError("int8 export needs a student prepared by dfkd.nets.quantize")
    if not spec.int8:
        raise DfkdError(f"int8 export needs 8-bit weights and activations, this student has "
                        f"{spec.weight_bits}/{spec.activation_bits}: convert's int8 kernels "
                        "requantize to the full 8-bit range; export --formats fakequant")
    inner = freeze_observers(copy.deepcopy(model).cpu().eval())
    scale, zero_point = getattr(inner, INPUT_QUANTIZER).calculate_qparams()
    delattr(inner, INPUT_QUANTIZER)
    inner._forward_pre_hooks.clear()  # the input quantizer's hook: Quantize below does it
    with quiet_quantization():
        torch.ao.quantization.convert(inner, inplace=True)
    return nn.Sequential(nnq.Quantize(float(scale), int(zero_point), torch.quint8), inner,
                         nnq.DeQuantize()).eval()


@torch.no_grad()
def export_quantized(model: nn.Module, example: torch.Tensor, out_dir: str | Path,
                     formats: tuple[str, ...] = QUANTIZED_FORMATS, atol: float = 1e-5,
                     steps: float = INT8_STEPS, name: str = "model") -> dict[str, dict]:
    """Export a fake-quantized student (observers frozen) and check each copy on a batch of
    ``len(example) + 1`` random inputs against the fake-quant model:
    ``fakequant``: TorchScript of the fake-quant model itself (``<name>_fakequant.pt``),
    within ``atol``; ``int8``: TorchScript of :func:`int8_model` on the qnnpack engine
    (``<name>_int8.pt``, 8-bit students only; else reported as skipped), within ``steps``
    quantization steps of the logits (integer requantization rounds each layer's output
    where the fake-quant model rounds in float). Each result: path, max_abs_diff, ok,
    top-1 agreement with the fake-quant model, and the tolerance used."""
    unknown = [f for f in formats if f not in QUANTIZED_FORMATS]
    if unknown:
        raise DfkdError(f"unknown format {unknown[0]!r} for a quantized student; use one of: "
                        f"{', '.join(QUANTIZED_FORMATS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fake = freeze_observers(copy.deepcopy(model).cpu().eval())
    example = example.cpu()
    check = torch.randn(len(example) + 1, *example.shape[1:],
                        generator=torch.Generator().manual_seed(0))
    expected = fake(check)
    results = {}
    if "fakequant" in formats:
        path = export_torchscript(fake, example, out_dir / f"{name}_fakequant.pt", False)
        results["fakequant"] = _compare(torch.jit.load(str(path))(check), expected, atol, path)
    if "int8" in formats:
        spec = fake.quantize_spec
        if not spec.int8:
            results["int8"] = {"skipped": f"{spec.weight_bits}-bit weights / "
                               f"{spec.activation_bits}-bit activations: int8 kernels "
                               "requantize to the full 8-bit range", "ok": True}
        else:
            with quantized_engine():
                path = export_torchscript(int8_model(fake), example, out_dir / f"{name}_int8.pt",
                                          False)
                got = torch.jit.load(str(path))(check)
            step = float(output_quantizer(fake).scale)
            results["int8"] = _compare(got, expected, steps * step, path)
    return results


def _compare(got: torch.Tensor, expected: torch.Tensor, tolerance: float, path: Path) -> dict:
    diff = float((got.float() - expected).abs().max())
    agree = float((got.argmax(1) == expected.argmax(1)).float().mean())
    return {"path": str(path), "max_abs_diff": diff, "tolerance": tolerance,
            "top1_agreement": agree, "ok": diff <= tolerance}

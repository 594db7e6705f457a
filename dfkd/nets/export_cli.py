"""Export a run's student — a distilled classifier (``student.pt``) or a pix2pix/CycleGAN
generator (``latest_net_G.pth``) — to TorchScript and ONNX, and check the copies
(``tools/export.py``, ``dfkd-export``).

    python tools/export.py --run runs/dafl_lenet5_lenet5_half_fashion_mnist --out exported/
    python tools/export.py --ckpt runs/student/latest_net_G.pth --size 256 --out exported/

``--run`` takes a run folder (its ``student.pt``, else its ``latest_net_G.pth``);
``--ckpt`` a file of either kind. A generator file's architecture is inferred (or give
--netG/--ngf/--norm). Each export is checked against PyTorch's output on a batch of
another size (max |difference| <= --atol); exit status 1 if a check fails.

A fake-quantized student (``student.quantize``) is rebuilt with its quantizers (the bit
widths are in its file) and exported as ``fakequant`` (TorchScript of the fake-quant model,
within --atol) and ``int8`` (a real int8 model by ``torch.ao.quantization.convert``, 8-bit
students only, within --int8-steps quantization steps of the logits): ``--formats``
fakequant int8 (the default for such a student).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn as nn

from dfkd.core.errors import CheckpointError, DfkdError
from dfkd.core.io import safe_load
from dfkd.nets.checkpoint import extract_state_dict
from dfkd.nets.export import (
    FORMATS,
    INT8_STEPS,
    QUANTIZED_FORMATS,
    export_and_check,
    export_quantized,
)
from dfkd.nets.quantize import is_quantized, quantize_student, spec_in_state
from dfkd.nets.student_file import STUDENT_FILE, _rebuild, load_student
from generators.gan_checkpoint import load_pix2pix_state

GENERATOR_FILES = ("latest_net_G.pth", "latest_net_G_A.pth")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", help="a run folder (its student.pt or latest_net_G.pth)")
    source.add_argument("--ckpt", help="student.pt, or latest_net_G.pth (original layout)")
    parser.add_argument("--netG", default=None, help="generator: e.g. resnet_9blocks "
                                                     "(default: inferred)")
    parser.add_argument("--ngf", type=int, default=None)
    parser.add_argument("--norm", default=None, choices=["batch", "instance"])
    parser.add_argument("--size", type=int, default=None,
                        help="input height and width (default: the student's image size; "
                             "256 for a generator)")
    parser.add_argument("--out", required=True, help="folder for <name>.pt / <name>.onnx")
    parser.add_argument("--formats", nargs="+", default=None,
                        choices=FORMATS + QUANTIZED_FORMATS,
                        help=f"default: {' '.join(FORMATS)}; for a quantized student "
                             f"{' '.join(QUANTIZED_FORMATS)}")
    parser.add_argument("--atol", type=float, default=1e-4)
    parser.add_argument("--int8-steps", type=float, default=INT8_STEPS,
                        help="int8 export: largest difference from the fake-quant model, in "
                             "quantization steps of the logits")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser.parse_args(argv)


def student_path(run: str | Path) -> Path:
    """The student file of a run folder: ``student.pt`` (a classifier), else the
    generator file the GAN tools write."""
    run = Path(run)
    if not run.is_dir():
        raise CheckpointError(f"--run {run} is not a folder: pass a run folder, or --ckpt FILE")
    for name in (STUDENT_FILE, *GENERATOR_FILES):
        if (run / name).exists():
            return run / name
    raise CheckpointError(f"{run} holds no {STUDENT_FILE} nor {GENERATOR_FILES[0]}: runs write "
                          "them when they finish (an interrupted run: --resume it first)")


def load_for_export(path: Path, args: argparse.Namespace) -> tuple[nn.Module, torch.Tensor]:
    """The network in ``path`` and an example input of its shape."""
    obj = safe_load(path)
    meta = obj.get("meta") if isinstance(obj, dict) else None
    if isinstance(meta, dict) and "in_channels" in meta:  # a student.pt
        quantize = spec_in_state(extract_state_dict(obj))
        model = (load_student(path) if quantize is None else  # fake-quant layers first
                 load_student(path, model=quantize_student(_rebuild(meta, path), quantize)))
        size = args.size or meta["image_size"]
        return model, torch.randn(1, meta["in_channels"], size, size)
    model, info = load_pix2pix_state(path, netG=args.netG, ngf=args.ngf, norm=args.norm)
    size = args.size or 256
    return model, torch.randn(1, info["input_nc"], size, size)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    path = student_path(args.run) if args.run else Path(args.ckpt)
    model, example = load_for_export(path, args)
    if is_quantized(model):
        return export_quantized_student(model, example, path, args)
    formats = tuple(args.formats or FORMATS)
    if set(formats) & set(QUANTIZED_FORMATS):
        raise DfkdError(f"--formats {' '.join(QUANTIZED_FORMATS)} are for a quantized student; "
                        f"{path} holds a float one: use {' '.join(FORMATS)}")
    results = export_and_check(model, example, args.out, formats, args.atol, name=path.stem)
    for fmt, r in results.items():
        print(f"{fmt}: {r['path']}  max |diff| {r['max_abs_diff']:.2e}  "
              f"{'ok' if r['ok'] else 'FAILED (> --atol ' + str(args.atol) + ')'}")
    return 0 if all(r["ok"] for r in results.values()) else 1


def export_quantized_student(model: nn.Module, example: torch.Tensor, path: Path,
                             args: argparse.Namespace) -> int:
    """``fakequant``/``int8`` exports of a fake-quantized student, checked; exit status."""
    formats = tuple(args.formats or QUANTIZED_FORMATS)
    if set(formats) - set(QUANTIZED_FORMATS):
        raise DfkdError(f"{path} holds a fake-quantized student: export it with --formats "
                        f"{' '.join(QUANTIZED_FORMATS)}")
    results = export_quantized(model, example, args.out, formats, atol=args.atol,
                               steps=args.int8_steps, name=path.stem)
    for fmt, r in results.items():
        if "skipped" in r:
            print(f"{fmt}: skipped ({r['skipped']})")
            continue
        print(f"{fmt}: {r['path']}  max |diff| {r['max_abs_diff']:.2e} (tolerance "
              f"{r['tolerance']:.2e}), top-1 agreement {100 * r['top1_agreement']:.1f}%  "
              f"{'ok' if r['ok'] else 'FAILED'}")
    return 0 if all(r["ok"] for r in results.values()) else 1

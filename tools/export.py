#!/usr/bin/env python
"""Export a pix2pix/CycleGAN generator to TorchScript and ONNX and check the copies.

    python tools/export.py --ckpt runs/student/latest_net_G.pth --size 256 --out exported/

The file is a state_dict in the original pix2pix/CycleGAN layout (its architecture is
inferred, or give --netG/--ngf/--norm); each export is checked against PyTorch's output on
a batch of another size (max |difference| <= --atol). Exit status 1 if a check fails.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from dfkd.cli import run_main  # noqa: E402
from dfkd.nets.export import FORMATS, export_and_check  # noqa: E402
from generators.gan_checkpoint import load_pix2pix_state  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, help="latest_net_G.pth (original layout)")
    parser.add_argument("--netG", default=None, help="e.g. resnet_9blocks (default: inferred)")
    parser.add_argument("--ngf", type=int, default=None)
    parser.add_argument("--norm", default=None, choices=["batch", "instance"])
    parser.add_argument("--size", type=int, default=256, help="input height and width")
    parser.add_argument("--out", required=True, help="folder for model.pt / model.onnx")
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--atol", type=float, default=1e-4)
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    args = parser.parse_args(argv)
    model, info = load_pix2pix_state(args.ckpt, netG=args.netG, ngf=args.ngf, norm=args.norm)
    example = torch.randn(1, info["input_nc"], args.size, args.size)
    results = export_and_check(model, example, args.out, tuple(args.formats), args.atol,
                               name=Path(args.ckpt).stem)
    for fmt, r in results.items():
        print(f"{fmt}: {r['path']}  max |diff| {r['max_abs_diff']:.2e}  "
              f"{'ok' if r['ok'] else 'FAILED (> --atol ' + str(args.atol) + ')'}")
    return 0 if all(r["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    run_main(main)

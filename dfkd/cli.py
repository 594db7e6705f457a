"""Helpers shared by the command-line tools in ``tools/``."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Callable

import torch

from dfkd.errors import DfkdError


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Flags every training tool takes."""
    parser.add_argument("--data-root", default=None,
                        help="folder holding the datasets (default: $DFKD_DATA or ./data)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")


def resolve_device(name: str) -> torch.device:
    """A torch device, with a clear error when CUDA is asked for but absent."""
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DfkdError(f"--device {name} was asked for, but this machine has no CUDA GPU: "
                        "use --device cpu")
    return device


def write_json(path: str | Path, data: dict) -> None:
    """Write ``data`` as indented JSON via a temp file and rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def run_main(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> None:
    """Run a tool's ``main``; user errors become one ``error:`` line and exit status 2."""
    args = sys.argv[1:] if argv is None else argv
    try:
        sys.exit(main(args))
    except DfkdError as exc:
        if "--debug" in args:
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: the last checkpoint written is kept", file=sys.stderr)
        sys.exit(130)

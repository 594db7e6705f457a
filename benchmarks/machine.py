"""The machine line of the benchmark reports."""
from __future__ import annotations

import importlib.metadata
import platform


def machine_info(import_torch: bool = True) -> str:
    """Architecture, torch threads and version. Without ``import_torch`` (while children
    are still to run: see :func:`benchmarks.children.run_child`) the thread count is left
    out."""
    if not import_torch:
        return f"{platform.machine()}, torch {importlib.metadata.version('torch')}"
    import torch

    return (f"{platform.machine()}, {torch.get_num_threads()} torch threads, "
            f"torch {torch.__version__}")

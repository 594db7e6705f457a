"""Switching models to eval mode for a measurement and back (``with eval_mode(a, b):``)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch.nn as nn


@contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Every module in eval mode inside the block; after it, each submodule is back in the
    mode it had (a frozen teacher inside a training model stays in eval mode)."""
    saved = [(m, m.training) for module in modules for m in module.modules()]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for module, training in saved:
            module.training = training

"""Discriminator distillation, data-free: a generator synthesizes inputs, the frozen teacher
judges them, a small student learns from the teacher on them (``tools/train_dfkd.py``).

``methods/`` holds one file per method, registered in ``METHODS`` (importing this package
registers them all), ``config.py`` the run's typed config, ``train.py`` the entry the tool
calls; ``replay``, ``grids`` and ``sample`` are the family's own parts; ``api.distill``
(``dfkd.data_free.distill``) runs a distillation from Python on models of one's own."""
from typing import Any

from dfkd.discriminator_distillation import methods  # noqa: F401  (registers the methods)
from dfkd.discriminator_distillation.registry import METHODS

__all__ = ["METHODS", "distill"]


def __getattr__(name: str) -> Any:
    if name == "distill":  # imported when used: the API pulls in the whole run machinery
        from dfkd.discriminator_distillation.api import distill

        return distill
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

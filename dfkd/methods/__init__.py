"""Distillation methods; importing this package registers them in ``METHODS``."""
from dfkd.methods import dafl, dfad  # noqa: F401  (registration)
from dfkd.methods.base import DataFreeMethod

__all__ = ["DataFreeMethod"]

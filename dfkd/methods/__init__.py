"""Distillation methods; importing this package registers them in ``METHODS``."""
from dfkd.methods import cgdd, dafl, dfad, mad, zskt  # noqa: F401  (registration)
from dfkd.methods.base import DataFreeMethod

__all__ = ["DataFreeMethod"]

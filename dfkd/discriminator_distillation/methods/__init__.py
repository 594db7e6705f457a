"""Distillation methods; importing this package registers them in ``METHODS``."""
from dfkd.discriminator_distillation.methods import cgdd, dafl, dfad, mad, zskt  # noqa: F401  (registration)
from dfkd.discriminator_distillation.methods.base import DataFreeMethod

__all__ = ["DataFreeMethod"]

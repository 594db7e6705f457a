"""The data-free methods, one file each; importing this package imports every module in
this folder (but those whose name starts with ``_``, such as ``_template.py``), and each
registers its method in ``METHODS``: a new method is a new file, nothing else is edited."""
import importlib
import pkgutil

from dfkd.discriminator_distillation.methods.base import DataFreeMethod
from dfkd.discriminator_distillation.setup import DataFreeSetup

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["DataFreeMethod", "DataFreeSetup"]

"""The generator-distillation (GAN compression) methods by name (config key ``method``)."""
from dfkd.core.registry import Registry

METHODS = Registry("generator-distillation method")

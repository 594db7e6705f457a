"""The joint G+D distillation methods by name (config key ``method``)."""
from dfkd.core.registry import Registry

METHODS = Registry("joint-distillation method")

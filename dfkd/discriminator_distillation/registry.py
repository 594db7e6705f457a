"""The data-free methods by name (``--method``); each method file registers itself."""
from dfkd.core.registry import Registry

METHODS = Registry("data-free method")

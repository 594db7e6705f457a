"""Evaluation metrics."""
from dfkd.metrics.accuracy import accuracy

__all__ = ["accuracy"]

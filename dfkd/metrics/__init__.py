"""Evaluation metrics."""
from dfkd.metrics.accuracy import accuracy
from dfkd.metrics.forgetting import SyntheticBank
from dfkd.metrics.memory import current_rss_mb

__all__ = ["SyntheticBank", "accuracy", "current_rss_mb"]

"""Classifier distillation with real data by name: ``kd`` (tools/train_kd.py, any
``student_loss`` block, adversarial terms included), ``kdgan`` (tools/train_kd.py with
``method: kdgan``) and ``afd`` (tools/train_afd.py)."""
from dfkd.core.registry import Registry

METHODS = Registry("adversarial-KD method")

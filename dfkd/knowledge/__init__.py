"""The ``student_loss:`` block: any weighted sum of knowledge-form terms, for every loop.

    student_loss: {ce: 1.0, kd: 1.0, at: 1000}

``StudentLoss`` records the layers the terms need (``dfkd.nets.hooks.PairRecorder``), owns
the terms' learnable parts (regressors, embeddings, autoencoders), which train with the
student, and returns each term and their weighted sum. Terms are in ``KNOWLEDGE``.
"""
from dfkd.knowledge import (  # noqa: F401  (each registers its terms)
    adversarial,
    feature_terms,
    logit_terms,
    relation_terms,
)
from dfkd.knowledge.student_loss import StudentLoss
from dfkd.knowledge.terms import KNOWLEDGE

__all__ = ["KNOWLEDGE", "StudentLoss"]

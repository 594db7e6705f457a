"""Classifier distillation with real data: data-driven KD with any ``student_loss`` block
(including the adversarial terms of Wang et al. 2018 and ANC, whose discriminators are the
loop's critic; ``tools/train_kd.py``) and AFD's online peers (``tools/train_afd.py``),
registered in ``METHODS``. The adversarial terms themselves live in ``dfkd.knowledge`` (a
lower layer) because the data-free family's students use them too."""
from dfkd.adversarial_kd import afd, data_driven  # noqa: F401  (registers them)
from dfkd.adversarial_kd.registry import METHODS

__all__ = ["METHODS"]

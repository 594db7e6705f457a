"""Classifier distillation with real data: data-driven KD with any ``student_loss`` block
(including the adversarial terms of Wang et al. 2018 and ANC; ``tools/train_kd.py``) and
AFD's online peers (``tools/train_afd.py``)."""

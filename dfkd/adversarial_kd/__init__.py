"""Classifier distillation with real data: data-driven KD with any ``student_loss`` block
(including the adversarial terms of Wang et al. 2018 and ANC, whose discriminators are the
loop's critic; ``tools/train_kd.py``) and AFD's online peers (``tools/train_afd.py``),
registered in ``METHODS``. The adversarial terms themselves live in ``dfkd.knowledge`` (a
lower layer) because the data-free family's students use them too.

Each method is built as ``Method(teacher, student, adversary, options, data, setup)``, the
other families' shape: ``options`` its ``Options`` dataclass (AFD's from the config's
``options:``; data-driven KD has none, its loss being the shared ``student_loss:`` block),
``data`` the training ``TensorDataset``, ``setup`` a :class:`RealDataSetup`. AFD's two
peers fill the teacher and student slots (see ``afd.py``). ``config.py`` holds the typed
configs, ``train.py`` and ``train_afd.py`` the entries the tools call."""
from dfkd.adversarial_kd import afd, data_driven  # noqa: F401  (registers them)
from dfkd.adversarial_kd.registry import METHODS
from dfkd.adversarial_kd.setup import RealDataSetup

__all__ = ["METHODS", "RealDataSetup"]

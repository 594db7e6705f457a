"""Classifier distillation with real data: data-driven KD with any ``student_loss`` block
(including the adversarial terms of Wang et al. 2018, ANC and KDCAN, whose discriminators
are the loop's critic; ``tools/train_kd.py``), KDGAN's three-player game (the same tool,
``method: kdgan``; ``kdgan.py``) and AFD's online peers (``tools/train_afd.py``),
registered in ``METHODS``. The adversarial terms themselves live in ``dfkd.knowledge`` (a
lower layer) because the data-free family's students use them too.

Each method is built as ``Method(teacher, student, adversary, options, data, setup)``, the
other families' shape: ``options`` its ``Options`` dataclass (AFD's from the config's
``options:``; data-driven KD has none, its loss being the shared ``student_loss:`` block),
``data`` the training ``TensorDataset``, ``setup`` a :class:`RealDataSetup`. AFD's two
peers fill the teacher and student slots (see ``afd.py``). ``config.py`` holds the typed
configs, ``train.py`` and ``train_afd.py`` the entries the tools call; ``api.distill``
(``dfkd.adversarial_kd.distill``) runs data-driven KD from Python on models and images of
one's own."""
from typing import Any

from dfkd.adversarial_kd import afd, data_driven, kdgan  # noqa: F401  (registers them)
from dfkd.adversarial_kd.registry import METHODS
from dfkd.adversarial_kd.setup import RealDataSetup

__all__ = ["METHODS", "RealDataSetup", "distill"]


def __getattr__(name: str) -> Any:
    if name == "distill":  # imported when used: the API pulls in the whole run machinery
        from dfkd.adversarial_kd.api import distill

        return distill
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

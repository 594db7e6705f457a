"""Joint generator + discriminator distillation: a whole GAN (G_T, D_T) is distilled into a
student GAN (G_S, D_S) (``tools/distill_gan.py``).

Each method is registered in ``METHODS`` (importing this package registers them), built as
``Method(teacher, student, adversary, options, data, setup)``; ``config.py`` is the run's
typed config, ``train.py`` the entry the tool calls; ``api.distill``
(``dfkd.joint_distillation.distill``) runs it from Python on a DCGAN and images of one's
own."""
from typing import Any

from dfkd.joint_distillation import joint, ppcd  # noqa: F401  (registers generic_joint, aguinaldo, ppcd)
from dfkd.joint_distillation.registry import METHODS

__all__ = ["METHODS", "distill"]


def __getattr__(name: str) -> Any:
    if name == "distill":  # imported when used: the API pulls in the whole run machinery
        from dfkd.joint_distillation.api import distill

        return distill
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

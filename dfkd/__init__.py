"""dfkd: data-free and GAN-based knowledge distillation on one adversarial loop.

The Python API (each name is imported when first used, so ``import dfkd`` stays light)::

    import dfkd
    student = dfkd.data_free.distill(teacher, student, method="dafl", image_shape=(1, 28, 28),
                                     num_classes=10, iters=2000, out="runs/mine")
    small_g = dfkd.generator_distillation.compress(teacher_g, student_ngf=16,
                                                   inputs=x, targets=y, out="runs/small_g")
    small_gan = dfkd.joint_distillation.distill(teacher_g, teacher_d, images=x,
                                                student_ngf=16, out="runs/small_gan")
    student = dfkd.adversarial_kd.distill(teacher, student, train_data=(x, y),
                                          student_loss={"ce": 0.1, "kd": 0.9}, epochs=10)
    student = dfkd.load_student("runs/mine")          # the run's student.pt
    dfkd.export(student, torch.randn(1, 1, 28, 28), "exported/")  # TorchScript + ONNX

``data_free`` is the discriminator-distillation family (``dfkd.discriminator_distillation``).
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> (module, attribute; None: the module itself)
_PUBLIC = {
    "data_free": ("dfkd.discriminator_distillation", None),
    "discriminator_distillation": ("dfkd.discriminator_distillation", None),
    "generator_distillation": ("dfkd.generator_distillation", None),
    "joint_distillation": ("dfkd.joint_distillation", None),
    "adversarial_kd": ("dfkd.adversarial_kd", None),
    "load_student": ("dfkd.nets.student_file", "load_student"),
    "export": ("dfkd.nets.export", "export_and_check"),
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'dfkd' has no attribute {name!r}")
    module, attribute = _PUBLIC[name]
    value = importlib.import_module(module)
    return value if attribute is None else getattr(value, attribute)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))

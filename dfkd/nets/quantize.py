"""Fake-quantized students: quantization-aware training with ``torch.ao.quantization``.

``quantize_student(model, {"weight_bits": 8, "activation_bits": 8})`` prepares a float
classifier, in place, for quantization-aware training (the config's ``student.quantize``):
every ``nn.Conv2d``/``nn.Linear`` becomes its ``torch.ao.nn.qat`` twin, whose weight passes a
fake quantizer, and the input of the network and the output of each of those layers pass an
activation fake quantizer: the forward pass rounds as integer arithmetic would, and the
straight-through estimator passes gradients to the float weights.

The quantizers (Choi et al. 2020 quantize the student's weights and activations; the
quantizer their experiments use could not be read here, so this is the common QAT recipe):
- weights: per output channel, symmetric, signed ``b``-bit integers in [−2^(b−1), 2^(b−1)−1],
  scale = max|w_c| / ((2^b − 1)/2) over the *current* weights (no history: the weights are
  data-free, so they are observed at every forward, training or not);
- activations: per tensor, affine, unsigned integers in [0, 2^b − 1], scale and zero point
  from a moving average of the batch min/max (torch's QAT default, averaging constant 0.01),
  the first batch taken as it is. Activation ranges learn **only in training mode**: in
  eval mode (test-set accuracy, exports) they are frozen, so no real image ever sets them.
  Until a quantizer has seen a training batch it passes its input through unchanged.
Quantizer states are buffers (checkpoints, ``--resume``, ``student.pt``); unobserved ranges
are 0, never ±inf (the loop refuses to checkpoint NaN/Inf). Not done: Conv-BN-ReLU fusion
(each Conv/Linear output is quantized before its BatchNorm and ReLU, as in the int8 model).
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Iterator

import torch
import torch.nn as nn
from torch.ao.quantization import (
    FakeQuantize,
    MovingAverageMinMaxObserver,
    PerChannelMinMaxObserver,
    QConfig,
    prepare_qat,
)

from dfkd.core.errors import ConfigError

BITS = range(2, 9)  # what the int8 container types of torch.ao.quantization can hold
INPUT_QUANTIZER = "input_fake_quant"  # the submodule that fake-quantizes the network's input
BITS_BUFFER = "quantize_bits"  # the model buffer holding [weight bits, activation bits]


@dataclass(frozen=True)
class QuantizeSpec:
    """``student.quantize``: bit widths of weights and activations, and how fast activation
    ranges follow the batches (torch's default 0.01)."""

    weight_bits: int = 8
    activation_bits: int = 8
    averaging: float = 0.01

    @property
    def int8(self) -> bool:
        """Whether ``torch.ao.quantization.convert`` can make a real int8 model of it."""
        return self.weight_bits == 8 and self.activation_bits == 8


def read_quantize(values: dict | QuantizeSpec | None) -> QuantizeSpec | None:
    """The ``student.quantize`` mapping read into a :class:`QuantizeSpec` (None for an empty
    mapping: a float student); a bad key or value is one ConfigError line."""
    if values is None or isinstance(values, QuantizeSpec):
        return values
    if not values:
        return None
    known = [f.name for f in fields(QuantizeSpec)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown key student.quantize.{unknown[0]}; known: {', '.join(known)}")
    for key in ("weight_bits", "activation_bits"):
        bits = values.get(key, 8)
        if isinstance(bits, bool) or not isinstance(bits, int) or bits not in BITS:
            raise ConfigError(f"student.quantize.{key} must be an integer from {BITS[0]} to "
                              f"{BITS[-1]} (bits of torch's int8 containers), got {bits!r}")
    averaging = values.get("averaging", 0.01)
    if isinstance(averaging, bool) or not isinstance(averaging, (int, float)) \
            or not 0 < averaging <= 1:
        raise ConfigError(f"student.quantize.averaging must be in (0, 1], got {averaging!r}")
    return QuantizeSpec(**{**values, "averaging": float(averaging)})


class CurrentRangePerChannel(PerChannelMinMaxObserver):
    """Per-channel min/max of the latest tensor only (torch's keeps the running extremes,
    which would never forget a weight's earlier range)."""

    def forward(self, x_orig: torch.Tensor) -> torch.Tensor:
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig.detach().to(self.min_val.dtype)
        lo, hi = torch.aminmax(x.transpose(0, self.ch_axis).flatten(1), dim=1)
        self.min_val.resize_(lo.shape).copy_(lo)
        self.max_val.resize_(hi.shape).copy_(hi)
        return x_orig


class FirstBatchMovingAverage(MovingAverageMinMaxObserver):
    """torch's moving-average min/max, started from the first batch, with a finite
    unobserved state (0, 0) and an ``observed`` flag instead of ±inf."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.min_val.zero_()
        self.max_val.zero_()
        self.register_buffer("observed", torch.tensor(False))

    def forward(self, x_orig: torch.Tensor) -> torch.Tensor:
        if x_orig.numel() == 0:
            return x_orig
        if not self.observed:
            lo, hi = torch.aminmax(x_orig.detach().to(self.min_val.dtype))
            self.min_val.copy_(lo)
            self.max_val.copy_(hi)
            self.observed.fill_(True)
            return x_orig
        return super().forward(x_orig)


class TrainingFakeQuantize(FakeQuantize):
    """An activation fake quantizer whose range learns in training mode only; before its
    first training batch it is the identity."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.observer_enabled[0] == 1:
            return super().forward(x)
        if self.fake_quant_enabled[0] == 0 or not self.activation_post_process.observed:
            return x
        return torch.fake_quantize_per_tensor_affine(x, self.scale, self.zero_point,
                                                     self.quant_min, self.quant_max)


def _weight_args(bits: int) -> dict:
    return dict(observer=CurrentRangePerChannel, quant_min=-2 ** (bits - 1),
                quant_max=2 ** (bits - 1) - 1, dtype=torch.qint8,
                qscheme=torch.per_channel_symmetric, ch_axis=0)


def _activation_args(bits: int, averaging: float) -> dict:
    return dict(observer=FirstBatchMovingAverage, quant_min=0, quant_max=2 ** bits - 1,
                dtype=torch.quint8, qscheme=torch.per_tensor_affine,
                averaging_constant=averaging)


def weight_fake_quant(bits: int) -> FakeQuantize:
    """Per-channel symmetric signed ``bits``-bit fake quantizer of a weight (axis 0)."""
    return FakeQuantize(**_weight_args(bits))


def activation_fake_quant(bits: int, averaging: float = 0.01) -> TrainingFakeQuantize:
    """Per-tensor affine unsigned ``bits``-bit fake quantizer of an activation."""
    return TrainingFakeQuantize(**_activation_args(bits, averaging))


def qconfig(spec: QuantizeSpec) -> QConfig:
    """The eager-mode QAT qconfig of ``spec``."""
    return QConfig(
        activation=TrainingFakeQuantize.with_args(**_activation_args(spec.activation_bits,
                                                                     spec.averaging)),
        weight=FakeQuantize.with_args(**_weight_args(spec.weight_bits)))


@contextmanager
def quiet_quantization() -> Iterator[None]:
    """torch.ao.quantization's deprecation notices silenced (nothing in torch replaces it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")
        yield


def _quantize_input(module: nn.Module, args: tuple) -> tuple:
    """Forward pre-hook: the network's input through its activation quantizer."""
    return (getattr(module, INPUT_QUANTIZER)(args[0]), *args[1:])


def is_quantized(model: nn.Module) -> bool:
    """Whether ``model`` was prepared by :func:`quantize_student`."""
    return isinstance(getattr(model, INPUT_QUANTIZER, None), TrainingFakeQuantize)


def quantize_student(model: nn.Module, values: dict | QuantizeSpec | None,
                     name: str = "the student", ema: float = 0.0) -> nn.Module:
    """``model`` prepared in place for quantization-aware training as ``values`` (the
    ``student.quantize`` mapping) says; unchanged for an empty mapping. Call it before the
    model's optimizer is built: the QAT layers keep the weight tensors, but the modules are
    new. ``ema``: the momentum of the student's EMA copy, refused with quantization
    (``AveragedModel`` averages integer buffers — zero points, switches — and truncates
    them). The bit widths are kept in the buffer ``quantize_bits`` (so a saved student says
    how to rebuild it: :func:`spec_in_state`). Returns ``model``."""
    spec = read_quantize(values)
    if spec is None:
        return model
    if ema:
        raise ConfigError("student.quantize with student.ema: the EMA copy would average the "
                          "quantizers' integer zero points and switches; set student.ema: 0")
    if is_quantized(model):
        raise ConfigError(f"{name} is quantized already: give student.quantize once")
    layers = [n for n, m in model.named_modules() if type(m) in (nn.Conv2d, nn.Linear)]
    if not layers:
        raise ConfigError(f"student.quantize: {name} ({type(model).__name__}) has no nn.Conv2d "
                          "or nn.Linear layer to quantize: pick a model built from them, or "
                          "remove student.quantize")
    device = next(model.parameters()).device
    try:
        model.qconfig = qconfig(spec)
        with quiet_quantization():
            prepare_qat(model, inplace=True)
    except Exception as exc:  # torch's own message, on one line
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"student.quantize: {name} ({type(model).__name__}) cannot be "
                          f"prepared for quantization-aware training ({first}): remove "
                          "student.quantize or pick another model") from None
    model.add_module(INPUT_QUANTIZER,
                     activation_fake_quant(spec.activation_bits, spec.averaging).to(device))
    model.register_forward_pre_hook(_quantize_input)
    model.register_buffer(BITS_BUFFER, torch.tensor([spec.weight_bits, spec.activation_bits],
                                                    device=device))
    model.quantize_spec = spec
    with torch.no_grad():  # per-channel buffers get their shapes now, as a saved model has them
        for module in model.modules():
            if hasattr(module, "weight_fake_quant"):
                module.weight_fake_quant(module.weight)
    return model.to(device)


def spec_in_state(state: dict[str, torch.Tensor]) -> dict | None:
    """The ``student.quantize`` mapping of a saved quantized student's ``state_dict`` (its
    bit widths), None for a float one."""
    bits = state.get(BITS_BUFFER)
    if bits is None:
        return None
    return {"weight_bits": int(bits[0]), "activation_bits": int(bits[1])}


def output_quantizer(model: nn.Module) -> TrainingFakeQuantize | None:
    """The activation quantizer of the model's last quantized layer (its logits), if any."""
    quantizers = [m.activation_post_process for m in model.modules()
                  if isinstance(getattr(m, "activation_post_process", None), TrainingFakeQuantize)]
    return quantizers[-1] if quantizers else None


def freeze_observers(model: nn.Module) -> nn.Module:
    """Every quantizer of ``model`` fixed at its present range (for an export): returns it."""
    for module in model.modules():
        if isinstance(module, FakeQuantize):
            module.disable_observer()
    return model

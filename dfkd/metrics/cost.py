"""Model cost: parameters, multiply-accumulates and CPU latency, as GAN-compression papers
report them (GAN Compression, Li et al. 2020, Table 1: #Params and MACs)."""
from __future__ import annotations

import math
import statistics
import time

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from dfkd.core.modes import eval_mode


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements (shared parameters counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(model: nn.Module, example: torch.Tensor, transposed_by_output: bool = False) -> int:
    """Multiply-accumulates of one forward pass on ``example`` (its batch included).

    Counted by ``torch.utils.flop_counter.FlopCounterMode`` as FLOPs / 2: convolutions
    (transposed ones too), linear layers and matrix products (mm, addmm, bmm, attention).
    Bias additions, norms, activations, padding and other element-wise operations are not
    counted. ``example`` may live on the ``meta`` device (with the model) to count a large
    model without computing it.

    A transposed convolution costs ``N·H_in·W_in·C_in·C_out/groups·k²`` here. The MACs
    GAN Compression reports (torchprofile) count it per *output* pixel instead, stride²
    times more; ``transposed_by_output=True`` reproduces those numbers (resnet_9blocks,
    ngf=64, 256×256: 56.8 G as in the paper, 49.6 G by default).
    """
    extra = [0]

    def by_output(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        x = args[0]
        pixels = output.shape[2:].numel() - x.shape[2:].numel()
        extra[0] += (x.shape[0] * pixels * module.in_channels * module.out_channels
                     // module.groups * math.prod(module.kernel_size))

    handles = [m.register_forward_hook(by_output) for m in model.modules()
               if transposed_by_output and isinstance(m, nn.modules.conv._ConvTransposeNd)]
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter:
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    return counter.get_total_flops() // 2 + extra[0]


def teacher_student_cost(teacher: nn.Module, student: nn.Module,
                         example: torch.Tensor) -> dict[str, int]:
    """MACs for ``example`` and parameter counts of a teacher and its student."""
    return {"teacher_macs": count_macs(teacher, example),
            "student_macs": count_macs(student, example),
            "teacher_params": count_parameters(teacher),
            "student_params": count_parameters(student)}


def cpu_latency(model: nn.Module, example: torch.Tensor, repeats: int = 20,
                warmup: int = 3) -> dict[str, float]:
    """Wall-clock time of one forward pass on ``example``: median and quartiles (ms) of
    ``repeats`` timed runs after ``warmup`` untimed ones, under ``torch.inference_mode()``
    with the model in eval mode (each submodule's mode is restored afterwards).

    Uses the current ``torch.get_num_threads()`` (reported as ``threads``); set it before
    calling for comparable numbers. Move model and example to the CPU first.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats} and {warmup}")
    times = []
    with eval_mode(model), torch.inference_mode():
        for _ in range(warmup):
            model(example)
        for _ in range(repeats):
            start = time.perf_counter()
            model(example)
            times.append((time.perf_counter() - start) * 1000.0)
    if repeats == 1:
        p25 = p75 = times[0]
    else:
        p25, _, p75 = statistics.quantiles(times, n=4, method="inclusive")
    return {"median_ms": statistics.median(times), "p25_ms": p25, "p75_ms": p75,
            "iqr_ms": p75 - p25, "repeats": repeats, "threads": torch.get_num_threads()}


__all__ = ["count_macs", "count_parameters", "cpu_latency", "teacher_student_cost"]

"""Data-parallel training across processes (``torchrun --nproc_per_node N tools/...``).

Every process holds the whole run (models, players, method); each takes a share of every
batch, and after each backward pass the loop averages the gradients of the stepping
player over the processes (one all-reduce of the flattened gradients), so all copies take
the same optimizer step from the same weights, as DistributedDataParallel would. The
loop's players freeze and unfreeze each other every phase, which DDP's wrapper does not
allow; averaging in the loop does. BatchNorm statistics are per process and are taken
from process 0 at each evaluation. Process 0 alone evaluates, logs and writes files.
Backend: gloo on CPU (tested here with 2 processes), NCCL on CUDA.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
import torch.nn as nn

from dfkd.core.errors import ConfigError


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def init_from_env(device: torch.device) -> int:
    """Join the process group ``torchrun`` describes in the environment (``WORLD_SIZE`` >
    1), if not joined yet; returns the number of processes (1 without torchrun)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or world_size() > 1:
        return world_size()
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    return world_size()


def local_batch(batch_size: int) -> int:
    """This process's share of a global batch (the global batch must divide evenly)."""
    n = world_size()
    if batch_size % n:
        raise ConfigError(f"train.batch_size {batch_size} does not split over {n} processes: "
                          f"use a multiple of {n}")
    return batch_size // n


def average_gradients(parameters) -> None:
    """Replace each gradient by its mean over the processes (one flattened all-reduce)."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if world_size() == 1 or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_module(module: nn.Module) -> None:
    """Process 0's parameters and buffers, everywhere."""
    if world_size() == 1:
        return
    with torch.no_grad():
        for tensor in (*module.parameters(), *module.buffers()):
            dist.broadcast(tensor.data, src=0)


def reseed_for_rank(seed: int) -> None:
    """Different random streams per process (fresh latents, shuffles), the same for
    process 0 as without torchrun."""
    if rank():
        torch.manual_seed(seed + 1_000_003 * rank())


def shutdown() -> None:
    if world_size() > 1:
        dist.barrier()
        dist.destroy_process_group()

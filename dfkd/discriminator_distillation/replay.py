"""A bounded memory of synthetic samples, with the teacher's logits cached.

Generating is the expensive part of data-free distillation on a CPU; a student step on
stored samples is cheap, and their cached teacher logits make replay cost no teacher
forward. Mixing old samples into each student batch also keeps the student from
forgetting what earlier generator distributions taught it (MB-DFKD, MAD).

Capacity is a number of samples fixed up front: memory stays flat however long the run.
``fifo`` keeps the newest samples; ``reservoir`` keeps a uniform sample of all ever seen.
The buffer's content and counters are part of the checkpoint (``state_dict``).
"""
from __future__ import annotations

import torch

from dfkd.core.errors import ConfigError

POLICIES = ("fifo", "reservoir")


class ReplayBuffer:
    """Fixed-capacity store of ``(image, teacher_logits)`` pairs."""

    def __init__(self, capacity: int, policy: str = "fifo") -> None:
        if capacity <= 0:
            raise ConfigError(f"replay capacity must be positive, got {capacity}")
        if policy not in POLICIES:
            raise ConfigError(f"unknown replay policy {policy!r}; use one of {', '.join(POLICIES)}")
        self.capacity = capacity
        self.policy = policy
        self.images: torch.Tensor | None = None
        self.logits: torch.Tensor | None = None
        self.size = 0  # filled slots
        self.seen = 0  # samples ever offered (reservoir sampling's counter, fifo's cursor)

    def __len__(self) -> int:
        return self.size

    def _allocate(self, images: torch.Tensor, logits: torch.Tensor) -> None:
        self.images = images.new_empty((self.capacity, *images.shape[1:]))
        self.logits = logits.new_empty((self.capacity, *logits.shape[1:]))

    @torch.no_grad()
    def add(self, images: torch.Tensor, logits: torch.Tensor) -> None:
        """Offer a batch; which samples are kept depends on the policy."""
        if self.images is None:
            self._allocate(images, logits)
        n = len(images)
        if self.policy == "fifo":
            slots = (self.seen + torch.arange(n)) % self.capacity
            keep = torch.ones(n, dtype=torch.bool)
        else:  # reservoir (Vitter's algorithm R), vectorized over the batch
            counts = self.seen + torch.arange(n)  # samples seen before each one
            draws = (torch.rand(n) * (counts + 1)).long()
            slots = torch.where(counts < self.capacity, counts, draws)
            keep = slots < self.capacity
        slots, idx = slots[keep], torch.arange(n)[keep]
        # where two samples of a batch map to one slot the later wins, as if added in turn
        winner = torch.full((self.capacity,), -1, dtype=torch.long)
        winner = winner.scatter_reduce(0, slots, idx, reduce="amax")
        last = winner[slots] == idx
        slots, idx = slots[last], idx[last]
        self.images[slots.to(self.images.device)] = images[idx.to(images.device)].detach()
        self.logits[slots.to(self.logits.device)] = logits[idx.to(logits.device)].detach()
        self.seen += n
        self.size = min(self.capacity, self.size + n) if self.policy == "fifo" else \
            min(self.capacity, self.seen)

    def sample(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` stored pairs drawn uniformly with replacement."""
        if self.size == 0:
            raise RuntimeError("sample() from an empty replay buffer")
        idx = torch.randint(self.size, (n,)).to(self.images.device)
        return self.images[idx], self.logits[idx]

    def state_dict(self) -> dict:
        return {"capacity": self.capacity, "policy": self.policy, "size": self.size,
                "seen": self.seen,
                "images": None if self.images is None else self.images[: self.size].clone(),
                "logits": None if self.logits is None else self.logits[: self.size].clone()}

    def load_state_dict(self, state: dict) -> None:
        if state["capacity"] != self.capacity or state["policy"] != self.policy:
            raise ConfigError(
                f"the checkpoint's replay buffer is {state['policy']} with capacity "
                f"{state['capacity']}, the config asks for {self.policy} with {self.capacity}")
        self.size, self.seen = state["size"], state["seen"]
        if state["images"] is not None:
            self._allocate(state["images"], state["logits"])
            self.images[: self.size] = state["images"]
            self.logits[: self.size] = state["logits"]

"""The meta-learning step of Fast-DFKD (Fang et al., AAAI 2022): pure helpers on the
parameter lists of a meta-generator θ and of its adapted copy θ′.

One synthesis round adapts θ′ ← θ by k inner steps θ′_{i+1} = Adam(θ′_i, ∇L(θ′_i)); the
outer step then moves θ with the *outer gradient*:
- first-order MAML (the paper's and the code's default, ``--is_maml 1``): the sum of the
  inner gradients, g = Σ_{i=0}^{k−1} ∇_{θ′} L(θ′_i) (``fomaml_grad`` in
  zju-vipa/Fast-Datafree ``datafree/synthesis/fast_meta.py`` adds each inner step's
  gradient of the copy to θ's ``.grad`` and steps the outer Adam after the last one);
- Reptile (``--is_maml 0``): g = s·(θ − θ′_k), the direction from the adapted weights back
  to θ (the code scales it by s = 67 before its Adam step); with plain SGD at rate ε/s this
  is Reptile's θ ← θ + ε(θ′ − θ) (:func:`reptile_update`).

On the shared loop the outer optimizer belongs to the generator player; the method hands it
g through :func:`surrogate_loss`, whose gradient with respect to each p is exactly g_p.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch


def sum_of_gradients(per_step: Sequence[Sequence[torch.Tensor]]) -> list[torch.Tensor]:
    """First-order MAML's outer gradient: Σ_i g_i, parameter by parameter, over the inner
    steps' gradients ``per_step[i][p]`` (every step lists the parameters in one order)."""
    if not per_step:
        raise ValueError("sum_of_gradients needs the gradients of at least one inner step")
    sizes = {len(step) for step in per_step}
    if len(sizes) != 1:
        raise ValueError(f"every inner step must list the same parameters; got lengths {sizes}")
    return [torch.stack([step[j].detach() for step in per_step]).sum(0)
            for j in range(len(per_step[0]))]


def reptile_gradient(meta: Sequence[torch.Tensor], adapted: Sequence[torch.Tensor],
                     scale: float = 1.0) -> list[torch.Tensor]:
    """Reptile's outer gradient s·(θ − θ′): a descent step on it moves θ towards θ′."""
    _same_length(meta, adapted)
    return [scale * (p.detach() - q.detach()) for p, q in zip(meta, adapted)]


def reptile_update(meta: Sequence[torch.Tensor], adapted: Sequence[torch.Tensor],
                   epsilon: float) -> list[torch.Tensor]:
    """Reptile's update θ ← θ + ε(θ′ − θ) (Nichol et al. 2018), as new tensors."""
    _same_length(meta, adapted)
    return [p.detach() + epsilon * (q.detach() - p.detach()) for p, q in zip(meta, adapted)]


def surrogate_loss(params: Sequence[torch.Tensor],
                   grads: Sequence[torch.Tensor]) -> torch.Tensor:
    """Σ_p ⟨p, g_p⟩ with g detached: a scalar whose gradient with respect to each ``p`` is
    ``g_p``, so any optimizer stepping ``params`` on it takes the outer step on g."""
    _same_length(params, grads)
    if not params:
        raise ValueError("surrogate_loss needs at least one parameter")
    return sum((p * g.detach().to(p.dtype)).sum() for p, g in zip(params, grads))


def _same_length(a: Sequence, b: Sequence) -> None:
    if len(a) != len(b):
        raise ValueError(f"parameter lists differ in length: {len(a)} and {len(b)}")

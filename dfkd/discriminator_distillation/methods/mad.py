"""MAD: Momentum Adversarial Distillation (Do et al., NeurIPS 2022).

DFAD's adversarial game (``dfkd.discriminator_distillation.methods.dfad``: L1 between teacher and student logits,
the generator maximizing it), plus an exponential-moving-average copy Ĝ of the generator,
never optimized directly: θ_Ĝ ← m·θ_Ĝ + (1 − m)·θ_G after each generator step (the loop's
EMA, ``generator.ema = m``). Every student batch is half G(z), half Ĝ(z): Ĝ lags behind
G and still produces what earlier generators did, so the student keeps what it learned
there (large distribution shifts cause forgetting in DFAD). A batch costs as much as
DFAD's. The paper's generator is class-conditional and its losses bounded by a δ; this
is the unconditional form, comparable to DFAD on the same budget.
"""
from __future__ import annotations

import torch

from dfkd.core.errors import ConfigError
from dfkd.discriminator_distillation.methods.dfad import DFAD
from dfkd.discriminator_distillation.registry import METHODS

EMA_SHARE = 0.5  # fraction of each student batch drawn from the EMA generator


@METHODS.register("mad")
class MAD(DFAD):
    """DFAD with a momentum generator feeding half of every student batch."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.generator_ema is None:
            raise ConfigError("MAD needs the momentum generator: set generator.ema to its "
                              "momentum m in (0, 1), e.g. --set generator.ema=0.99")

    def student_images(self) -> torch.Tensor:
        """Half a batch from the live generator, half from the momentum generator."""
        n_ema = round(self.batch_size * EMA_SHARE)
        return torch.cat([self.sample(n=self.batch_size - n_ema),
                          self.sample(self.generator_ema, n=n_ema)])

"""MAD's class-conditional generator G(z + e_y) (Do et al., NeurIPS 2022, arXiv 2209.10359).

A table E of learned class embeddings, one row e_y per class, is added to the latent vector
and the sum drives the DFAD generator body: x = G(z + e_y). The paper compared three inputs
for large datasets ("uncond": z alone, "cat": [z, e_y], "sum": z + e_y; appendix A.4) and
found the sum trained stably and best; this is that "sum" generator.

It computes what ``conditional`` (CGDD's generator) computes and has the same weights
(``label_emb`` is E), and it also exposes its two halves: ``embed(y)`` (a row of E) and
``from_latent(h)`` (the body on a latent h). MAD uses them to feed its momentum copy G̃
with the *live* embedding table, as the paper's Fig. 1 draws it (e_y and e_y' are both
gathered from E; G̃ is an EMA of the generator network alone).

Not the paper's: the body. Its architectures (appendix Table 8, ConvBlock/ResNetBlock
stacks per dataset) could not be read; this is DFAD's ``GeneratorA`` body, as for
``dfad``/``conditional``.
"""
from __future__ import annotations

import torch

from dfkd.core.registry import GENERATORS
from generators.conditional import ConditionalGenerator
from generators.dafl import DAFLGenerator


class EmbeddingConditionalGenerator(ConditionalGenerator):
    """The DFAD generator driven by ``z + E[y]``, with the embedding and the body apart."""

    def embed(self, labels: torch.Tensor) -> torch.Tensor:
        """The class embeddings e_y of ``labels`` (rows of E), shape (N, nz)."""
        return self.label_emb(labels)

    def from_latent(self, latent: torch.Tensor) -> torch.Tensor:
        """Images from latents that already hold the class (h = z + e_y)."""
        return DAFLGenerator.forward(self, latent)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if labels.shape != z.shape[:1]:
            raise ValueError(f"one label per latent vector expected, got {tuple(labels.shape)} "
                             f"labels for {z.shape[0]} vectors")
        return self.from_latent(z + self.embed(labels))


@GENERATORS.register("mad")
def mad_generator(nz: int, ngf: int, img_size: int, channels: int,
                  num_classes: int = 10) -> EmbeddingConditionalGenerator:
    """MAD's class-conditional generator: G(z + e_y), the embedding E apart from the body."""
    return EmbeddingConditionalGenerator(nz, ngf, img_size, channels, num_classes)

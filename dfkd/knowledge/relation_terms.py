"""Relation terms of the ``student_loss:`` block: PKT, RKD, FSP, IRG, CRD, and the
denoising DDKD."""
from __future__ import annotations

import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.knowledge.config import KnowledgeConfig
from dfkd.knowledge.terms import Probe, Term, Views, _same_resolution, term
from dfkd.losses import (
    ContrastiveRepresentation,
    DiffusionDenoisedKD,
    fsp_loss,
    irg,
    probabilistic_knowledge_transfer,
    rkd_angle,
    rkd_distance,
)
from dfkd.nets.hooks import projection


@term("pkt")
class PKT(Term):
    """PKT (Passalis & Tefas 2018) on the penultimate embeddings."""

    needs_embedding = True

    def forward(self, v: Views) -> torch.Tensor:
        return probabilistic_knowledge_transfer(v.student_embedding, v.teacher_embedding)


@term("rkd_distance")
class RKDDistance(Term):
    """RKD-D (Park et al. 2019) on the penultimate embeddings (published weight 25)."""

    needs_embedding = True

    def forward(self, v: Views) -> torch.Tensor:
        return rkd_distance(v.student_embedding, v.teacher_embedding)


@term("rkd_angle")
class RKDAngle(Term):
    """RKD-A (Park et al. 2019) on the penultimate embeddings (published weight 50)."""

    needs_embedding = True

    def forward(self, v: Views) -> torch.Tensor:
        return rkd_angle(v.student_embedding, v.teacher_embedding)


@term("fsp")
class FSP(Term):
    """FSP (Yim et al. 2017) over consecutive pairs; student maps are projected to the
    teacher's channel counts where they differ."""

    needs_maps = True

    def __init__(self, probe: Probe, cfg: KnowledgeConfig) -> None:
        super().__init__(probe, cfg)
        if len(probe.teacher_maps) < 2:
            raise ConfigError("fsp relates consecutive layers: give at least two layer pairs "
                              "in knowledge.teacher_layers / knowledge.student_layers")
        self.projections = nn.ModuleList(
            projection(s, t, n) for s, t, n in
            zip(probe.student_maps, probe.teacher_maps, probe.pair_names))

    def forward(self, v: Views) -> torch.Tensor:
        return fsp_loss([p(s) for p, s in zip(self.projections, v.student_maps)], v.teacher_maps)


@term("irg")
class InstanceRelationGraph(Term):
    """IRG (Liu et al. 2019): vertices (logits), edges (per-layer sample distances) and
    transformations between consecutive layers."""

    needs_maps = True

    def forward(self, v: Views) -> torch.Tensor:
        return irg(v.student_maps, v.teacher_maps, v.student_logits, v.teacher_logits)


@term("crd")
class CRD(Term):
    """CRD (Tian et al. 2020) on the penultimate embeddings, negatives from a memory queue."""

    needs_embedding = True

    def __init__(self, probe: Probe, cfg: KnowledgeConfig) -> None:
        super().__init__(probe, cfg)
        self.contrast = ContrastiveRepresentation(
            probe.student_dim, probe.teacher_dim, embed_dim=cfg.crd.dim,
            negatives=cfg.crd.negatives, temperature=cfg.crd.temperature)

    def forward(self, v: Views) -> torch.Tensor:
        return self.contrast(v.student_embedding, v.teacher_embedding)


@term("ddkd")
class DDKD(Term):
    """Diffusion-denoised KD (seed 004) on the last pair: the weight multiplies L_DDKD
    (λ₃); λ₁·L_diff + λ₂·L_ae (``knowledge.ddkd.diff``, ``knowledge.ddkd.ae``) train the
    diffusion model and the autoencoder. Add ``dkd`` for the paper's logit term."""

    needs_maps = True

    def __init__(self, probe: Probe, cfg: KnowledgeConfig) -> None:
        super().__init__(probe, cfg)
        _same_resolution(probe, "ddkd", [len(probe.teacher_maps) - 1])
        self.model = DiffusionDenoisedKD(probe.student_maps[-1][1], probe.teacher_maps[-1][1],
                                         steps=cfg.ddkd.steps)

    def forward(self, v: Views) -> dict[str, torch.Tensor]:
        parts = self.model(v.student_maps[-1], v.teacher_maps[-1])
        own = self.cfg.ddkd.diff * parts["diff"] + self.cfg.ddkd.ae * parts["ae"]
        return {"loss": parts["ddkd"], "own": own, "diff": parts["diff"], "ae": parts["ae"]}

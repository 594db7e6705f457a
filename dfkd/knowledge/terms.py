"""Knowledge-form terms of the ``student_loss:`` block, by name.

Each term wraps a pure loss of ``dfkd.losses`` and owns that loss's learnable parts, if
any. A term is built from the shapes the teacher and student showed on a probe batch
(:class:`Probe`) and evaluated on the recorded tensors of one batch (:class:`Views`).
Which recorded layers a term reads follows its paper: FitNet the middle pair (the hint),
SP and FT the last pair, DDKD the last pair, the others every pair; PKT, RKD and CRD the
penultimate embeddings.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import ConfigError
from dfkd.core.registry import Registry
from dfkd.knowledge.config import KnowledgeConfig
from dfkd.knowledge.modules import Paraphraser, Translator, VIDRegressor
from dfkd.losses import (
    ContrastiveRepresentation,
    DiffusionDenoisedKD,
    activation_boundary,
    attention_transfer,
    dkd,
    factor_transfer,
    fsp_loss,
    hint_loss,
    irg,
    kd_kl,
    kdsvd,
    logit_l1,
    neuron_selectivity_transfer,
    pr_dkd,
    probabilistic_knowledge_transfer,
    rkd_angle,
    rkd_distance,
    similarity_preserving,
    variational_information,
    virtual_teacher_kd,
)
from dfkd.nets.hooks import projection

KNOWLEDGE = Registry("student loss term")


@dataclass
class Probe:
    """Shapes seen on a probe batch: paired maps, embeddings, and names of the pairs."""

    teacher_maps: list[torch.Size]
    student_maps: list[torch.Size]
    teacher_dim: int
    student_dim: int
    pair_names: list[str]
    teacher_classes: int = 0
    student_classes: int = 0


@dataclass
class Views:
    """What one batch gave: logits, class targets, paired maps, penultimate embeddings.
    Teacher tensors carry no graph."""

    student_logits: torch.Tensor
    teacher_logits: torch.Tensor | None  # None when no term needs the teacher
    targets: torch.Tensor | None = None
    student_maps: list[torch.Tensor] | None = None
    teacher_maps: list[torch.Tensor] | None = None
    student_embedding: torch.Tensor | None = None
    teacher_embedding: torch.Tensor | None = None


class Term(nn.Module):
    """A knowledge term; subclasses say what they read and compute ``forward(views)``."""

    needs_maps = False
    needs_embedding = False
    needs_targets = False
    needs_teacher = True
    needs_critic = False  # has a discriminator, trained by the loop's critic player

    def __init__(self, probe: Probe, cfg: KnowledgeConfig) -> None:
        super().__init__()
        self.cfg = cfg

    def forward(self, v: Views) -> torch.Tensor | dict[str, torch.Tensor]:
        """The term's value; or a dict of its ``"loss"`` (multiplied by the term's weight),
        an optional ``"own"`` loss that trains only the term's own parts (an autoencoder's
        reconstruction: added with weight 1, as its paper does), and parts to log."""
        raise NotImplementedError


def term(name: str):
    """Register a :class:`Term` subclass under ``name``."""
    def decorator(cls: type[Term]) -> type[Term]:
        KNOWLEDGE.add(name, cls)
        cls.term_name = name
        return cls
    return decorator


def _same_resolution(probe: Probe, name: str, indices: list[int]) -> None:
    for i in indices:
        s, t = probe.student_maps[i], probe.teacher_maps[i]
        if len(s) != 4 or len(t) != 4 or s[2:] != t[2:]:
            raise ConfigError(
                f"{name} compares maps of equal resolution, but pair {probe.pair_names[i]} has "
                f"student {tuple(s[1:])} and teacher {tuple(t[1:])}: choose other layers with "
                "knowledge.teacher_layers / knowledge.student_layers")


# -- logits ------------------------------------------------------------------------------
@term("ce")
class CrossEntropy(Term):
    """CE(S(x), y) with the true labels (data-driven) or the teacher's/asked class (data-free)."""

    needs_targets = True
    needs_teacher = False

    def forward(self, v: Views) -> torch.Tensor:
        return F.cross_entropy(v.student_logits, v.targets)


@term("kd")
class KD(Term):
    """Hinton et al. 2015: τ²·KL(p_T^τ ‖ p_S^τ), τ = knowledge.temperature."""

    def forward(self, v: Views) -> torch.Tensor:
        return kd_kl(v.student_logits, v.teacher_logits, self.cfg.temperature)


@term("l1")
class LogitL1(Term):
    """DFAD's mean absolute error between logits."""

    def forward(self, v: Views) -> torch.Tensor:
        return logit_l1(v.student_logits, v.teacher_logits)


@term("dkd")
class DKD(Term):
    """Decoupled KD (Zhao et al. 2022): α·TCKD + β·NCKD."""

    needs_targets = True

    def forward(self, v: Views) -> torch.Tensor:
        c = self.cfg
        return dkd(v.student_logits, v.teacher_logits, v.targets, c.dkd.alpha, c.dkd.beta,
                   c.temperature)


@term("pr_dkd")
class PerceptionReconstructionDKD(Term):
    """DKD on per-class batch-standardized logits (seed 003)."""

    needs_targets = True

    def forward(self, v: Views) -> torch.Tensor:
        c = self.cfg
        return pr_dkd(v.student_logits, v.teacher_logits, v.targets, c.dkd.alpha, c.dkd.beta,
                      c.temperature)


@term("tf_kd")
class VirtualTeacher(Term):
    """Tf-KD (Yuan et al. 2020): KD from a hand-made virtual teacher, no teacher needed."""

    needs_targets = True
    needs_teacher = False

    def forward(self, v: Views) -> torch.Tensor:
        c = self.cfg
        return virtual_teacher_kd(v.student_logits, v.targets, c.tf_kd.virtual_prob,
                                  c.tf_kd.virtual_temperature)


# -- features ------------------------------------------------------------------------------
@term("fitnet")
class FitNet(Term):
    """FitNet (Romero et al. 2015): regressor(student hint) ≈ teacher hint, on the middle pair."""

    needs_maps = True

    def __init__(self, probe: Probe, cfg: KnowledgeConfig) -> None:
        super().__init__(probe, cfg)
        self.index = len(probe.teacher_maps) // 2
        i = self.index
        self.regressor = projection(probe.student_maps[i], probe.teacher_maps[i],
                                    probe.pair_names[i])

    def forward(self, v: Views) -> torch.Tensor:
        i = self.index
        return hint_loss(self.regressor(v.student_maps[i]), v.teacher_maps[i])


@term("at")
class AttentionTransfer(Term):
    """AT (Zagoruyko & Komodakis 2017) over every pair."""

    needs_maps = True

    def __init__(self, probe: Probe, cfg: KnowledgeConfig) -> None:
        super().__init__(probe, cfg)
        _same_resolution(probe, "at", list(range(len(probe.teacher_maps))))

    def forward(self, v: Views) -> torch.Tensor:
        return attention_transfer(v.student_maps, v.teacher_maps)


@term("sp")
class SimilarityPreserving(Term):
    """SP (Tung & Mori 2019) on the last pair."""

    needs_maps = True

    def forward(self, v: Views) -> torch.Tensor:
        return similarity_preserving(v.student_maps[-1], v.teacher_maps[-1])


@term("nst")
class NeuronSelectivity(Term):
    """NST (Huang & Wang 2017) over every pair."""

    needs_maps = True

    def __init__(self, probe: Probe, cfg: KnowledgeConfig) -> None:
        super().__init__(probe, cfg)
        _same_resolution(probe, "nst", list(range(len(probe.teacher_maps))))

    def forward(self, v: Views) -> torch.Tensor:
        return sum(neuron_selectivity_transfer(s, t)
                   for s, t in zip(v.student_maps, v.teacher_maps))


@term("ft")
class FactorTransfer(Term):
    """FT (Kim et al. 2018) on the last pair. The paraphraser learns its reconstruction
    online, alongside the student (the paper pretrains it first), with weight 1."""

    needs_maps = True

    def __init__(self, probe: Probe, cfg: KnowledgeConfig) -> None:
        super().__init__(probe, cfg)
        _same_resolution(probe, "ft", [len(probe.teacher_maps) - 1])
        t_channels, s_channels = probe.teacher_maps[-1][1], probe.student_maps[-1][1]
        self.paraphraser = Paraphraser(t_channels, cfg.ft.rate)
        self.translator = Translator(s_channels, self.paraphraser.encoder[-1][0].out_channels)

    def forward(self, v: Views) -> dict[str, torch.Tensor]:
        teacher = v.teacher_maps[-1]
        reconstruction = F.mse_loss(self.paraphraser(teacher), teacher)
        factor = factor_transfer(self.translator(v.student_maps[-1]),
                                 self.paraphraser.encode(teacher).detach())
        return {"loss": factor, "own": reconstruction, "reconstruction": reconstruction}


@term("ab")
class ActivationBoundary(Term):
    """AB (Heo et al. 2019) over every pair, through a learned connector per pair. The
    recorded maps are the layers' outputs, so the teacher's boundary is its output > 0."""

    needs_maps = True

    def __init__(self, probe: Probe, cfg: KnowledgeConfig) -> None:
        super().__init__(probe, cfg)
        self.connectors = nn.ModuleList(
            projection(s, t, n) for s, t, n in
            zip(probe.student_maps, probe.teacher_maps, probe.pair_names))

    def forward(self, v: Views) -> torch.Tensor:
        return sum(activation_boundary(c(s), t, self.cfg.ab.margin)
                   for c, s, t in zip(self.connectors, v.student_maps, v.teacher_maps))


@term("vid")
class VariationalInformation(Term):
    """VID (Ahn et al. 2019) over every pair: −log q(t | s), q Gaussian with learned mean
    and per-channel variance."""

    needs_maps = True

    def __init__(self, probe: Probe, cfg: KnowledgeConfig) -> None:
        super().__init__(probe, cfg)
        _same_resolution(probe, "vid", list(range(len(probe.teacher_maps))))
        self.regressors = nn.ModuleList(
            VIDRegressor(s[1], t[1]) for s, t in zip(probe.student_maps, probe.teacher_maps))

    def forward(self, v: Views) -> torch.Tensor:
        return sum(variational_information(r(s), t, r.log_scale)
                   for r, s, t in zip(self.regressors, v.student_maps, v.teacher_maps))


@term("kdsvd")
class KDSVD(Term):
    """KD-SVD (Lee et al. 2018) over every pair; the student's maps are projected to the
    teacher's channel count where it differs (its singular vectors live over channels)."""

    needs_maps = True

    def __init__(self, probe: Probe, cfg: KnowledgeConfig) -> None:
        super().__init__(probe, cfg)
        _same_resolution(probe, "kdsvd", list(range(len(probe.teacher_maps))))
        self.projections = nn.ModuleList(
            projection(s, t, n) for s, t, n in
            zip(probe.student_maps, probe.teacher_maps, probe.pair_names))

    def forward(self, v: Views) -> torch.Tensor:
        return sum(kdsvd(p(s), t, self.cfg.kdsvd.k)
                   for p, s, t in zip(self.projections, v.student_maps, v.teacher_maps))


# -- relations -----------------------------------------------------------------------------
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

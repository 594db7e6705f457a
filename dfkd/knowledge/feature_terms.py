"""Feature-map terms of the ``student_loss:`` block: FitNet, AT, SP, NST, FT, AB, VID,
KD-SVD (the recorded layer pairs each reads follow its paper)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.knowledge.config import KnowledgeConfig
from dfkd.knowledge.modules import Paraphraser, Translator, VIDRegressor
from dfkd.knowledge.terms import Probe, Term, Views, _same_resolution, term
from dfkd.losses import (
    activation_boundary,
    attention_transfer,
    factor_transfer,
    hint_loss,
    kdsvd,
    neuron_selectivity_transfer,
    similarity_preserving,
    variational_information,
)
from dfkd.nets.hooks import projection


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

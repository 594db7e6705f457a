"""Data-free knowledge amalgamation via group-stack dual-GAN (Ye, Ji, Wang, Gao, Song,
CVPR 2020, arXiv 2003.09088): several teachers of disjoint class sets, one student for all.

Read: the abstract, and a secondary summary that reproduces the method's equations (the
paper's own method section was not reachable: what follows the summary is marked).
Stage 1 (``warmup_rounds`` iterations, no student step): the group-stack generator
(``group_stack.py``, eq. 2) is trained against the teachers as discriminators,
    L_joint = L_gan(I_g) + 1/(B−1)·Σ_{j<B} l(O(Fʲ), O(I_g))                          (eq. 11)
    L_gan   = L_oh + α·L_a + β·L_ie + γ·L_dis                                        (eq. 8)
with O the union of the teachers' outputs (eq. 10), Fʲ judged by each teacher's last j
blocks after its teacher-level filter fʲ_m (eqs. 4, 9), L_oh/L_a/L_ie DAFL's one-hot,
activation and information-entropy terms, L_dis = mean |y| (eq. 7).
Stage 2: the student ("dual generator") is trained block by block, ``block_rounds``
iterations per block, the last block until the run's end; while block b trains, G and the
student's blocks before b are fixed. Its features F^b_u pass the filter f^b_m and teacher
m's blocks after b, to match teacher m's output on I_g (eqs. 12-14, λ_m = 1), from two
input streams (eqs. 15-16): the student's own blocks on I_g (λ¹, ``image_stream``) and G's
group output of the same depth (λ², ``generator_stream``).

Reconstructed (not in what could be read): l is KL(teacher m on I_g ‖ teacher m on Fʲ) in
eq. 11 and KL(teacher ‖ ·) at τ = ``temperature`` in eq. 13 (l as the cross-entropy to the
class teacher m gives the image, tried first, also asks the teacher an image is not given
to for a sure answer; it collapsed G's classes: seed 2 of the benchmark 37.3% against 47.5%
with the KL, ``configs/amalgamation``); the per-teacher terms
are averaged over the teachers (one teacher gives DAFL's L_G exactly); α, β are DAFL's MNIST
weights (0.1, 5), the stream weights λ¹ = λ² = 1; the image is given to the teachers
unfiltered (the filters act on the intermediate Fʲ). Deviations, and why:
- the paper's teachers and student are multi-label (sigmoid per label); here each teacher is
  a softmax classifier of its classes and the student a softmax classifier of all of them.
  L_dis is then a constant (softmax outputs sum to 1): ``sparsity`` 0 by default. The last
  block learns, besides each teacher's branch (eq. 13 at b = B: the student's logits of
  teacher m's classes vs teacher m, ``branch``), the routed ensemble target (``routed``):
  the more confident teacher's softmax placed in its class range (``multi_teacher.py``),
  because a softmax over all classes must also learn which teacher an image belongs to;
- ``ensemble_balance`` (0 = off, the paper): the class balance of the ensemble's soft
  routing on G's batch, which pushes G to make images of both teachers' classes;
- ``routed_onehot`` (0 = off, the paper): L_oh of the teacher each image is given to only,
  in place of every teacher's (``onehot``). A multi-label image should fire every teacher's
  labels; an image of one of two disjoint class sets should make one teacher sure, and
  asking both to be sure breeds images both claim, whose routing is arbitrary;
- the student's filters have a 1×1 projection (``group_stack.ChannelFilter``);
- block 1's two streams coincide (both are I_g): it is counted once, with weight λ¹;
- one fresh batch of G per iteration serves its ``student.steps`` steps, each with its own
  replay draw and random views (config ``replay``/``augment``) in the image stream, as in
  the other data-free methods (a G pass costs several student steps on a CPU); the
  generator stream uses the fresh batch only.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import ConfigError
from dfkd.discriminator_distillation.amalgamation_losses import (
    branch_loss,
    consistency_loss,
    routed_onehot_loss,
    sparsity_loss,
)
from dfkd.discriminator_distillation.group_stack import (
    ChannelFilter,
    GroupStackGenerator,
    block_inputs,
    lenet_blocks,
    run_blocks,
)
from dfkd.discriminator_distillation.methods.base import DataFreeMethod
from dfkd.discriminator_distillation.multi_teacher import (
    as_multi_teacher,
    routed_logits,
    soft_routed_distribution,
)
from dfkd.discriminator_distillation.registry import METHODS
from dfkd.losses import activation_loss, class_balance_loss, kd_kl, onehot_loss


@dataclass
class AmalgamationOptions:
    """Stage lengths and the weights of eqs. 8, 11 and 16 (see the module docstring)."""

    warmup_rounds: int = 1500  # stage 1: iterations of the group-stack GAN alone
    block_rounds: int = 250  # stage 2: iterations per student block; the last runs to the end
    group_width: int = 32  # channels inside each generator group (reconstructed)
    onehot: float = 1.0  # L_oh weight (eq. 8)
    activation: float = 0.1  # α: L_a (DAFL's MNIST value)
    balance: float = 5.0  # β: L_ie (DAFL's MNIST value)
    sparsity: float = 0.0  # γ: L_dis (eq. 7), constant on softmax outputs: off
    consistency: float = 1.0  # weight of eq. 11's intermediate term (the paper: 1)
    ensemble_balance: float = 0.0  # deviation, off: class balance of the routed ensemble
    routed_onehot: float = 0.0  # deviation, off: L_oh of the chosen teacher only
    image_stream: float = 1.0  # λ¹ (eq. 16)
    generator_stream: float = 1.0  # λ² (eq. 16)
    branch: float = 1.0  # last block: each teacher's branch (eq. 13 at b = B)
    routed: float = 1.0  # last block: the routed ensemble target (deviation)
    temperature: float = 1.0  # τ of the stage-2 KL terms


def stack_generator(teacher: nn.Module, spec, nz: int, width: int) -> GroupStackGenerator:
    """The group-stack G (eq. 2) for teachers of ``teacher``'s architecture: its groups make
    the inputs of the teacher's last 1..B blocks, the image last."""
    image = (spec.in_channels, spec.image_size, spec.image_size)
    t_in = block_inputs(lenet_blocks(teacher, "teacher"), teacher, image)
    return GroupStackGenerator(nz, width, t_in[::-1])


@METHODS.register("amalgamation")
class Amalgamation(DataFreeMethod):
    """Group-stack GAN first, then the student block by block against the teachers' blocks."""

    Options = AmalgamationOptions

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        o = self.options
        if o.block_rounds < 1:
            raise ConfigError("options.block_rounds must be >= 1: the iterations each student "
                              "block trains in stage 2")
        if self.knowledge is not None:
            raise ConfigError("amalgamation trains the student block by block with its own "
                              "losses: drop the student_loss block")
        self.teacher = as_multi_teacher(self.teacher, self.spec.num_classes).requires_grad_(False)
        self.classes = self.teacher.classes
        self.t_blocks = [lenet_blocks(t, "teacher") for t in self.teacher.members]
        self.s_blocks = lenet_blocks(self.student, "student")
        image = (self.spec.in_channels, self.spec.image_size, self.spec.image_size)
        t_in = block_inputs(self.t_blocks[0], self.teacher.members[0], image)
        for blocks, member in zip(self.t_blocks[1:], self.teacher.members[1:]):
            if block_inputs(blocks, member, image) != t_in:
                raise ConfigError("the teachers' blocks differ in shape: amalgamation needs "
                                  "teachers of one architecture")
        s_in = block_inputs(self.s_blocks, self.student, image)
        if any(s[1:] != t[1:] for s, t in zip(s_in, t_in)):
            raise ConfigError(f"the student's block sizes {s_in} do not match the teachers' "
                              f"{t_in}: use a LeNet-5 student")
        self.n_blocks = len(t_in)
        self.same_width = s_in == t_in
        self.stack = stack_generator(self.teacher.members[0], self.spec, self.nz,
                                     o.group_width).to(self.device)
        self.generator = self.stack  # what the sample grids and the forgetting bank draw
        self._stage2: tuple | None = None  # (iteration, G's features, the ensemble's logits)
        n_teachers = len(self.teacher.members)
        self.g_filters = nn.ModuleList(  # fʲ_m on Fʲ, j = 1..B-1 (input of block B-j+1)
            nn.ModuleList(ChannelFilter(t_in[-j][0], t_in[-j][0], project=False)
                          for _ in range(n_teachers)) for j in range(1, self.n_blocks)
        ).to(self.device)
        self.s_filters = nn.ModuleList(  # f^b_m on the student's block-b output, b = 1..B-1
            nn.ModuleList(ChannelFilter(s_in[b][0], t_in[b][0], project=True)
                          for _ in range(n_teachers)) for b in range(1, self.n_blocks)
        ).to(self.device)
        if o.generator_stream and not self.same_width:
            raise ConfigError("options.generator_stream feeds G's features to the student's "
                              "blocks, which needs the teachers' widths: set it to 0 or use a "
                              "student of the teachers' architecture")

    def parts(self) -> dict[str, nn.Module]:
        return {"generator": nn.ModuleDict({"stack": self.stack, "filters": self.g_filters}),
                "student": self.s_filters}

    def block(self, iteration: int) -> int:
        """The student block (1..B) stage 2 trains at ``iteration``; 0 during stage 1."""
        o = self.options
        if iteration < o.warmup_rounds:
            return 0
        return min(self.n_blocks, 1 + (iteration - o.warmup_rounds) // o.block_rounds)

    # -- stage 1: the group-stack GAN ------------------------------------------------------
    def generator_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        if self.block(iteration):
            return self.idle_student_loss("amalgamation's stage 2 trains no generator", "stage2")
        o, B = self.options, self.n_blocks
        feats = self.stack.features(torch.randn(self.batch_size, self.nz, device=self.device))
        image = feats[-1]
        terms = {k: 0.0 for k in ("onehot", "activation", "balance", "sparsity", "consistency")}
        member_logits = []
        for m, blocks in enumerate(self.t_blocks):
            head_input = run_blocks(blocks[:-1], image)  # the features the head reads (L_a)
            logits = blocks[-1](head_input)
            member_logits.append(logits)
            terms["onehot"] += onehot_loss(logits) / len(self.t_blocks)
            terms["activation"] += activation_loss(head_input) / len(self.t_blocks)
            terms["balance"] += class_balance_loss(logits) / len(self.t_blocks)
            terms["sparsity"] += sparsity_loss(F.softmax(logits, dim=1)) / len(self.t_blocks)
            for j in range(1, B):  # Fʲ through the teacher's last j blocks, after fʲ_m
                seen = run_blocks(blocks[B - j:], self.g_filters[j - 1][m](feats[j - 1]))
                terms["consistency"] += (consistency_loss(seen, logits)
                                         / ((B - 1) * len(self.t_blocks)))
        ensemble = soft_routed_distribution(member_logits, self.classes, self.spec.num_classes)
        terms["ensemble_balance"] = class_balance_loss(ensemble.clamp_min(1e-12).log())
        terms["routed_onehot"] = routed_onehot_loss(member_logits)
        self.keep_batch(iteration, image, routed_logits(member_logits, self.classes,
                                                        self.spec.num_classes))
        terms["loss"] = (o.onehot * terms["onehot"] + o.activation * terms["activation"]
                         + o.balance * terms["balance"] + o.sparsity * terms["sparsity"]
                         + o.consistency * terms["consistency"]
                         + o.ensemble_balance * terms["ensemble_balance"]
                         + o.routed_onehot * terms["routed_onehot"])
        return terms

    # -- stage 2: the student block by block -----------------------------------------------
    def block_loss(self, b: int, features: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """L^b_d (eq. 14) of the student's block-``b`` output ``features`` for ``images``:
        through each teacher's blocks after b (b < B), or the student's logits (b = B)."""
        o = self.options
        with torch.no_grad():
            member_logits = [run_blocks(blocks, images) for blocks in self.t_blocks]
        if b < self.n_blocks:
            return sum(kd_kl(run_blocks(blocks[b:], self.s_filters[b - 1][m](features)), z,
                             o.temperature)
                       for m, (blocks, z) in enumerate(zip(self.t_blocks, member_logits)))
        loss = o.branch * branch_loss(features, member_logits, self.classes, o.temperature)
        target = routed_logits(member_logits, self.classes, self.spec.num_classes)
        return loss + o.routed * kd_kl(features, target, o.temperature)

    @torch.no_grad()
    def stage2_batch(self, iteration: int) -> list[torch.Tensor]:
        """G's features [F¹ … I_g] of this iteration's fresh batch (G is fixed in stage 2),
        made at its first student step and offered to the replay buffer; every student step
        of the iteration reuses it, each with its own replay draw and random views."""
        if self._stage2 is None or self._stage2[0] != iteration:
            feats = self.stack.features(torch.randn(self.batch_size, self.nz, device=self.device))
            logits = self.teacher(feats[-1])
            self.remember(feats[-1], logits)
            self._stage2 = (iteration, feats, logits)
        return self._stage2[1]

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        b = self.block(iteration)
        if not b:
            return self.idle_student_loss("amalgamation's stage 1 takes no student step",
                                          "stage1")
        o = self.options
        feats = self.stage2_batch(iteration)
        fresh = feats[-1]
        with torch.no_grad():  # replay, then random views (block_loss labels them afresh)
            images = self.mix_replay(fresh, self._stage2[2])[0]
            images = images if self.augment is None else self.augment(images)
            before = run_blocks(self.s_blocks[:b - 1], images)
        terms = {"block": torch.tensor(float(b))}
        terms["image_stream"] = self.block_loss(b, self.s_blocks[b - 1](before), images)
        loss = o.image_stream * terms["image_stream"]
        if b > 1 and o.generator_stream:  # G's group output of the same depth (eq. 15)
            own = self.s_blocks[b - 1](feats[self.n_blocks - b])
            terms["generator_stream"] = self.block_loss(b, own, fresh)
            loss = loss + o.generator_stream * terms["generator_stream"]
        terms["loss"] = loss
        return terms

    def distill(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """The last block's loss on a batch (the student's logits), for callers of the
        methods' common ``distill``."""
        loss = self.block_loss(self.n_blocks, self.student(images), images)
        return {"loss": loss, "kd": loss.detach()}

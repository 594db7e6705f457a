"""Data-free quantization with adversarial knowledge distillation (Choi, Choi, El-Khamy, Lee,
"Data-Free Network Quantization With Adversarial Knowledge Distillation", CVPR-W 2020,
arXiv 2005.04136).

A min-max game on the KL divergence between teacher and (quantized) student outputs on
generated samples x = G(z), with the generator held near the data by an auxiliary loss L_ψ:
    min_S max_G  E_z[ KL(p_T(x) ‖ p_S(x)) − α·L_ψ(G) ],
    L_ψ = Σ_l mean_c KL(N(μ̂_lc, σ̂²_lc) ‖ N(μ_lc, σ²_lc))     (BN statistics, teacher layer l)
          + E_x[H(p_T(x))]                                   (instance categorical entropy ↓)
          − H(E_x[p_T(x)])                                   (batch categorical entropy ↑)
with (μ̂, σ̂²) the batch mean and variance at the input of the teacher's BatchNorm layer l,
(μ, σ²) its running statistics (both + the layer's eps). Here each term has its own weight
(``bn``, ``instance_entropy``, ``batch_entropy``: α each) and the KL its own
(``adversarial``). The generator step: L_G = −adversarial·KL + bn·L_BN + instance_entropy·H_i
− batch_entropy·H_b, the student fixed in eval mode (its activation quantizers frozen: G
attacks the current quantized student, whose BN statistics it does not move). Each student
step: KL(p_T ‖ p_S) on a fresh batch from the fixed G.

The student is quantized by the shared student config, not by this method:
``student: {model: lenet5_half, quantize: {weight_bits: 8, activation_bits: 8}}``
(:mod:`dfkd.nets.quantize`, usable with every data-free method): ``configs/dfq/
fashion_mnist.yaml`` is the float student, ``fashion_mnist_8bit.yaml`` and ``_4bit.yaml``
the quantized ones.

What was read: the paper's abstract, introduction and Figure 1 caption (min-max of the KL
between teacher and student outputs; the maximizing generator constrained by the teacher's
BN statistics), and the claims of the authors' patent US-12639581-B2 (BN mean and variance
matched by the KL divergence of two Gaussians; instance categorical entropy minimized; the
entropy of the batch-averaged categorical distribution maximized). The method section, its
weights, schedule and quantizer could not be read. Reconstructed, hence:
- the direction KL(batch ‖ running) of the Gaussian term [unverified], its mean over channels
  (a sum over 226 LeNet channels would drown the other terms) and sum over layers;
- the weights: 1 for every term, temperature 1 (the paper writes KL(t ‖ s)) [unverified];
  DataFree's reimplementation (zju-vipa/DataFree ``scripts/dfq``: adv 1, bn 1, oh 1,
  balance 20, an L2 BN term, τ 20, 1 generator step per 10 student steps) is a full-precision
  variant with DeepInversion's L2 BN term (the shared ``generator.bn_weight``) and a
  cross-entropy to the teacher's argmax in place of the instance entropy;
- the quantizer: see :mod:`dfkd.nets.quantize` (per-channel symmetric weights, per-tensor
  affine activations with moving-average ranges, straight-through gradients).
Not done: the paper's multiple generators *and* students (``generator.members`` gives
several generators; one student here).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import ConfigError
from dfkd.core.modes import eval_mode
from dfkd.discriminator_distillation.methods.base import DataFreeMethod
from dfkd.discriminator_distillation.registry import METHODS
from dfkd.losses import kd_kl
from dfkd.losses.bn_prior import batch_statistics
from dfkd.nets.hooks import FeatureRecorder


@dataclass
class DFQOptions:
    """The weights of the generator's terms and the KL temperature (all reconstructed: the
    paper's values could not be read)."""

    adversarial: float = 1.0  # weight of −KL(p_T ‖ p_S) in G's loss (the max step)
    bn: float = 1.0  # α on the Gaussian KL of the teacher's BN statistics; 0: off
    instance_entropy: float = 1.0  # α on the mean entropy of p_T per sample (minimized)
    batch_entropy: float = 1.0  # α on the entropy of the batch-mean p_T (maximized)
    temperature: float = 1.0  # τ of the KL in both steps


def gaussian_kl(mean_q: torch.Tensor, var_q: torch.Tensor, mean_p: torch.Tensor,
                var_p: torch.Tensor) -> torch.Tensor:
    """KL(N(mean_q, var_q) ‖ N(mean_p, var_p)) elementwise:
    ½[log(var_p / var_q) + (var_q + (mean_q − mean_p)²) / var_p − 1]."""
    return 0.5 * (torch.log(var_p / var_q) + (var_q + (mean_q - mean_p) ** 2) / var_p - 1)


def bn_gaussian_kl(features: torch.Tensor, running_mean: torch.Tensor,
                   running_var: torch.Tensor, eps: float) -> torch.Tensor:
    """The BN-statistics term of one layer: the mean over channels of KL(N(μ̂, σ̂² + ε) ‖
    N(μ, σ² + ε)), μ̂ and σ̂² the (biased) per-channel batch statistics of its input."""
    mean, var = batch_statistics(features)
    return gaussian_kl(mean, var + eps, running_mean, running_var + eps).mean()


def instance_entropy(logits: torch.Tensor) -> torch.Tensor:
    """E_x[H(softmax(logits))]: the mean entropy of each sample's class distribution."""
    log_p = F.log_softmax(logits, dim=1)
    return -(log_p.exp() * log_p).sum(dim=1).mean()


def batch_entropy(logits: torch.Tensor) -> torch.Tensor:
    """H(E_x[softmax(logits)]): the entropy of the batch's mean class distribution."""
    p = F.softmax(logits, dim=1).mean(dim=0)
    return -(p * torch.log(p.clamp_min(1e-12))).sum()


def dfq_generator_loss(teacher_logits: torch.Tensor, student_logits: torch.Tensor,
                       bn_term: torch.Tensor, options: DFQOptions) -> dict[str, torch.Tensor]:
    """The generator's terms and their weighted sum L_G = −adversarial·KL + bn·L_BN
    + instance_entropy·H_i − batch_entropy·H_b (``bn_term``: Σ_l of :func:`bn_gaussian_kl`)."""
    o = options
    terms = {"kl": kd_kl(student_logits, teacher_logits, o.temperature), "bn": bn_term,
             "instance_entropy": instance_entropy(teacher_logits),
             "batch_entropy": batch_entropy(teacher_logits)}
    terms["loss"] = (-o.adversarial * terms["kl"] + o.bn * bn_term
                     + o.instance_entropy * terms["instance_entropy"]
                     - o.batch_entropy * terms["batch_entropy"])
    return terms


@METHODS.register("dfq")
class DFQ(DataFreeMethod):
    """Adversarial KL between teacher and (fake-quantized) student; G held near the data by
    the teacher's BN statistics and its class entropies."""

    Options = DFQOptions

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._bn_layers = {name: m for name, m in self.teacher.named_modules()
                           if isinstance(m, nn.modules.batchnorm._BatchNorm)}
        if self.options.bn > 0 and not self._bn_layers:
            raise ConfigError(f"dfq matches the teacher's BatchNorm statistics, but the teacher "
                              f"{type(self.teacher).__name__} has no BatchNorm layers: use a "
                              "teacher with BatchNorm (e.g. --teacher lenet5_bn) or set "
                              "options.bn: 0")
        self._bn_inputs = FeatureRecorder(self.teacher, {n: n for n in self._bn_layers},
                                          inputs=True)

    def generator_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        images = self.sample()
        with self._bn_inputs as rec:
            teacher_logits = self.teacher(images)
        with eval_mode(self.student):
            student_logits = self.student(images)
        bn_term = teacher_logits.new_zeros(())
        if self.options.bn > 0:
            bn_term = sum(bn_gaussian_kl(rec[n], m.running_mean, m.running_var, m.eps)
                          for n, m in self._bn_layers.items())
        return dfq_generator_loss(teacher_logits, student_logits, bn_term, self.options)

    def student_inputs(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every student step on a fresh batch of the fixed G (offered to replay)."""
        with torch.no_grad():
            images = self.sample()
            teacher_logits = self.teacher(images)
        self.remember(images, teacher_logits)
        return self.student_batch(images, teacher_logits)

    def distill(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                targets: torch.Tensor) -> dict[str, torch.Tensor]:
        kd = kd_kl(self.student(images), teacher_logits, self.options.temperature)
        return {"loss": kd, "kd": kd}

"""CMI: Contrastive Model Inversion for Data-Free Knowledge Distillation (Fang, Song, Wang,
Shen, Wang, Song; IJCAI 2021, arXiv 2105.08584).

Sources. Only the paper's abstract could be read here; the method section (its equation
numbers) could not. Everything below is read from the official code, zju-vipa/CMI @ 9e79fa9:
``datafree/synthesis/contrastive.py`` (``CMISynthesizer``), ``datafree/hooks.py``,
``datafree/criterions.py``, ``datafree_kd.py`` and ``scripts/cmi/*.sh``. The terms are
therefore named, not numbered.

One loop iteration is one synthesis round (``SynthesisMethod``):
1. the generator G is re-initialized (conv/linear weights ~ N(0, 0.02), biases 0, BatchNorm
   weights ~ N(1, 0.02), biases 0; its BN running statistics are kept, as in the code), fresh
   latents z ~ N(0, I) and sorted random targets y are drawn, and a FRESH Adam (lr 1e-3,
   β (0.5, 0.999)) on G and z minimizes, for ``inner_steps`` steps,
       L = λ_bn·L_BN + λ_oh·CE(T(x_g), y) + λ_adv·L_adv + λ_cr·L_cr
   with x = G(z), x_g a global view (random crop after 4-pixel padding, flip) and x_l a local
   view (random resized crop of scale 0.25–1, flip):
   - L_BN = Σ_l ‖μ_l(x_g) − μ_l^BN‖₂ + ‖σ²_l(x_g) − σ²_l^BN‖₂ over the inputs of the
     teacher's BatchNorm2d layers (``bn_statistics_loss``; DeepInversion's term);
   - L_adv = −mean_i 1[argmax S(x_g)_i = argmax T(x_g)_i]·KL(p_T ‖ p_S), the student in eval
     mode (``agreement_adversarial_kl``);
   - L_cr, instance discrimination (``instance_contrast``): f(·) the per-channel spatial
     means of the teacher's feature maps at the inputs of every BatchNorm2d (for the CIFAR
     ResNets: of the four stages, as the code does for resnet34), concatenated; h a
     projection head Linear(d, d)–ReLU–Linear(d, 256), L2-normalized; local embeddings
     h(f(x_l)) against global ones h(f(x_g)) (detached), the batch's rows joined by
     ``negatives`` rows drawn from a memory bank of past samples' features (local ‖ global),
     τ_cr = 0.1. The bank keeps the teacher features f, not embeddings: they pass through
     the current head at every step, as in the code, so the head learns from them too.
   The head is the method's own learnable part: it is NOT reset between rounds and learns
   in the inner loop from the same L, with a persistent Adam of its own (lr = the inner lr,
   default betas), as ``CMISynthesizer.optimizer_head``.
2. The batch of the inner step with the lowest L (evaluated before that step's update)
   joins the memory of synthesized images (the config's ``replay`` buffer) and its features
   join the bank (FIFO, ``bank_size`` rows).
3. Each of the ``student.steps`` student steps draws a batch from the memory, as random
   crops/flips (the config's ``augment``) relabelled by the teacher, and minimizes
   τ²·KL(p_T^τ ‖ p_S^τ) at τ = 20 (``kd_kl``), SGD 0.1 (momentum 0.9, weight decay 1e-4),
   cosine over the rounds.

Checkpointed method state (``state_dict``): the head, its Adam, the feature bank, and (the
base's) the memory; with the loop's RNG state a resumed run equals a straight one.

Deviations, with their reasons (also in the configs' comments):
- The generator (the configs' ``datafree``, the code's ``Generator``: Sigmoid pixels, then
  the dataset's normalization) hands over normalized images, so the global view's padding
  is zero in normalized space (the dataset mean), not black.
- The views are written here (per-image crop of the zero-padded batch; resized crop by an
  affine grid, each side clipped to the image instead of kornia's ten retries), not kornia's
  augmentation modules: on a CPU those cost ~40-100 ms a call, 4 calls per inner step.
- The memory keeps float images and draws student batches uniformly with replacement; the
  code writes each batch to PNG (8-bit) and reshuffles a DataLoader over all of them.
- Bank rows are drawn with ``torch.randperm`` (the checkpointed torch RNG) instead of
  Python's ``random.sample``, so that ``--resume`` is exact.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import ConfigError
from dfkd.discriminator_distillation.registry import METHODS
from dfkd.discriminator_distillation.synthesis import SynthesisMethod, frozen, trainable
from dfkd.losses import bn_statistics_loss, kd_kl
from dfkd.losses.contrastive_inversion import agreement_adversarial_kl, instance_contrast
from dfkd.nets.hooks import FeatureRecorder
from dfkd.nets.resnet_cifar import CifarResNet

INNER_BETAS = (0.5, 0.999)  # the round's Adam on G and z (CMISynthesizer.synthesize)


@dataclass
class CMIOptions:
    """CMI's settings, defaults from the official code's "scratch" CIFAR-10 script
    (scripts/cmi/scratch_cmi_cifar10_wrn402_wrn161.sh) and ``datafree_kd.py`` (Fang et al.
    2021); the paper's own table of hyper-parameters could not be read."""

    bn: float = 1.0  # λ_bn: BN-statistics term
    onehot: float = 1.0  # λ_oh: CE of the teacher on the global view to the drawn targets
    adversarial: float = 0.5  # λ_adv: agreement-masked adversarial KL
    contrastive: float = 0.8  # λ_cr: instance-discrimination InfoNCE
    contrast_temperature: float = 0.1  # τ_cr
    temperature: float = 20.0  # τ of the student's KD
    inner_steps: int = 200  # g_steps: Adam steps on (G, z) per round
    inner_lr: float = 1e-3  # lr_g: the round's Adam, and the head's
    synthesis_batch: int = 256  # images synthesized per round
    bank_size: int = 40960  # rows of the feature bank
    negatives: int = 4096  # bank rows drawn per inner step
    head_dim: int = 256  # output size of the projection head
    crop_padding: int = 4  # global view: random crop after padding this many pixels
    local_min_scale: float = 0.25  # local view: smallest area fraction of the resized crop


class ProjectionHead(nn.Module):
    """CMI's head h: Linear(d, d) – ReLU – Linear(d, out), then L2 normalization."""

    def __init__(self, dim: int, out: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x), dim=1)


class FeatureBank:
    """CMI's memory bank: the teacher features (local ‖ global) of past synthesized
    samples, first in first out; ``sample(k)`` draws k filled rows without replacement."""

    def __init__(self, size: int, dim: int, device: torch.device) -> None:
        self.features = torch.zeros(size, dim, device=device)
        self.cursor = 0  # next row to write
        self.filled = 0

    def __len__(self) -> int:
        return self.filled

    @torch.no_grad()
    def add(self, features: torch.Tensor) -> None:
        size = len(self.features)
        features = features.detach()[-size:]
        rows = (self.cursor + torch.arange(len(features))) % size
        self.features[rows.to(self.features.device)] = features.to(self.features)
        self.cursor = (self.cursor + len(features)) % size
        self.filled = min(size, self.filled + len(features))

    def sample(self, k: int) -> torch.Tensor:
        rows = torch.randperm(self.filled)[:k]
        return self.features[rows.to(self.features.device)]

    def state_dict(self) -> dict:
        return {"features": self.features[: self.filled].clone(), "cursor": self.cursor,
                "filled": self.filled}

    def load_state_dict(self, state: dict) -> None:
        filled = state["filled"]
        if state["features"].shape[1:] != self.features.shape[1:] or filled > len(self.features):
            raise ConfigError(f"the checkpoint's CMI feature bank holds {filled} rows of "
                              f"{state['features'].shape[1]} features; this run's has "
                              f"{len(self.features)} of {self.features.shape[1]}: resume with "
                              "the teacher and options.bank_size of the checkpointed run")
        self.features[:filled] = state["features"].to(self.features)
        self.cursor, self.filled = state["cursor"], filled


@torch.no_grad()
def reset_generator(generator: nn.Module) -> None:
    """Re-initialize G as the code does at every round: conv/linear weights ~ N(0, 0.02),
    biases 0; affine BatchNorm weights ~ N(1, 0.02), biases 0 (running statistics kept)."""
    for m in generator.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def contrast_layers(teacher: nn.Module) -> list[str]:
    """Where L_cr reads the teacher (the code's rule): the inputs of the four stages of a
    CIFAR ResNet (the code's choice for resnet34), else the input of every BatchNorm2d."""
    if isinstance(teacher, CifarResNet):
        return ["layer1", "layer2", "layer3", "layer4"]
    return [name for name, m in teacher.named_modules() if isinstance(m, nn.BatchNorm2d)]


# -- the two views (differentiable, per image; the code uses kornia's RandomCrop(padding=4),
# RandomResizedCrop(scale=(0.25, 1)) and RandomHorizontalFlip) -------------------------------
def random_flip(images: torch.Tensor) -> torch.Tensor:
    """Each image mirrored left-right with probability 1/2."""
    flip = (torch.rand(len(images)) < 0.5).to(images.device).view(-1, 1, 1, 1)
    return torch.where(flip, images.flip(-1), images)


def padded_crop(images: torch.Tensor, padding: int) -> torch.Tensor:
    """The global view's crop: zero-pad ``padding`` pixels on each side, then cut each image
    back to its size at a random offset."""
    if not padding:
        return images
    n, _, h, w = images.shape
    top, left = (torch.randint(0, 2 * padding + 1, (2, n))).to(images.device)
    rows = top[:, None, None] + torch.arange(h, device=images.device)[None, :, None]
    cols = left[:, None, None] + torch.arange(w, device=images.device)[None, None, :]
    batch = torch.arange(n, device=images.device)[:, None, None]
    padded = F.pad(images, [padding] * 4).permute(0, 2, 3, 1)  # (N, H + 2p, W + 2p, C)
    return padded[batch, rows, cols].permute(0, 3, 1, 2)


def resized_crop(images: torch.Tensor, min_scale: float,
                 ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> torch.Tensor:
    """The local view: per image a crop of area fraction ~ U(min_scale, 1) and aspect ratio
    log-uniform in ``ratio`` (each side clipped to the image, instead of kornia's retries),
    at a random position, resampled bilinearly to the full size."""
    n = len(images)
    area = torch.empty(n).uniform_(min_scale, 1.0)
    aspect = torch.empty(n).uniform_(math.log(ratio[0]), math.log(ratio[1])).exp()
    width, height = (area * aspect).sqrt().clamp(max=1.0), (area / aspect).sqrt().clamp(max=1.0)
    # centres in [-1, 1] coordinates, so that the crop stays inside the image
    cx = (2 * torch.rand(n) - 1) * (1 - width)
    cy = (2 * torch.rand(n) - 1) * (1 - height)
    zero = torch.zeros(n)
    theta = torch.stack([torch.stack([width, zero, cx], 1), torch.stack([zero, height, cy], 1)], 1)
    grid = F.affine_grid(theta.to(images), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", align_corners=False)


@METHODS.register("cmi")
class CMI(SynthesisMethod):
    """Per round a re-initialized generator inverts the teacher (BN statistics, class,
    decision-adversarial and contrastive terms); the student learns on all rounds' images."""

    Options = CMIOptions

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        o = self.options
        bn_layers = {name: m for name, m in self.teacher.named_modules()
                     if isinstance(m, nn.BatchNorm2d)}
        if not bn_layers:
            raise ConfigError(f"cmi inverts the teacher's BatchNorm statistics, but the teacher "
                              f"({type(self.teacher).__name__}) has no BatchNorm2d layer: use a "
                              "teacher with BatchNorm (e.g. --teacher lenet5_bn)")
        self._bn_layers = bn_layers
        self._bn_inputs = FeatureRecorder(self.teacher, {n: n for n in bn_layers}, inputs=True)
        self._contrast_layers = contrast_layers(self.teacher)
        self._contrast_inputs = FeatureRecorder(
            self.teacher, {n: n for n in self._contrast_layers}, inputs=True)
        size, channels = self.spec.image_size, self.spec.in_channels
        with torch.no_grad(), self._contrast_inputs:
            self.teacher(torch.zeros(2, channels, size, size, device=self.device))
        dim = self._features().shape[1]
        self.head = ProjectionHead(dim, o.head_dim).to(self.device)
        self.head_optimizer = torch.optim.Adam(self.head.parameters(), lr=o.inner_lr)
        self.feature_bank = FeatureBank(o.bank_size, 2 * dim, self.device)

    def _features(self) -> torch.Tensor:
        """f: per-channel spatial means of the recorded teacher maps, concatenated (N, d)."""
        maps = [self._contrast_inputs[name] for name in self._contrast_layers]
        return torch.cat([m.flatten(2).mean(dim=2) for m in maps], dim=1)

    # -- one synthesis round ----------------------------------------------------------------
    def inversion_terms(self, z: torch.Tensor, targets: torch.Tensor
                        ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """One inner step's terms on x = G(z): ``(terms with "loss", x, f(x_l) ‖ f(x_g))``."""
        o = self.options
        images = self.generator(z)
        global_view = random_flip(padded_crop(images, o.crop_padding))
        local_view = random_flip(resized_crop(images, o.local_min_scale))
        with self._bn_inputs as bn_rec, self._contrast_inputs:
            teacher_logits = self.teacher(global_view)
        global_features = self._features()
        with self._contrast_inputs:
            self.teacher(local_view)
        local_features = self._features()
        bn = sum(bn_statistics_loss(bn_rec[name], m.running_mean, m.running_var)
                 for name, m in self._bn_layers.items())
        terms = {"bn": bn, "onehot": F.cross_entropy(teacher_logits, targets)}
        terms["adversarial"] = (agreement_adversarial_kl(self.student(global_view), teacher_logits)
                                if o.adversarial > 0 else bn.new_zeros(()))
        bank = self.feature_bank.sample(o.negatives)
        bank_local, bank_global = bank.chunk(2, dim=1)
        terms["contrast"] = instance_contrast(
            self.head(torch.cat([local_features, bank_local])),
            self.head(torch.cat([global_features, bank_global])),
            o.contrast_temperature, current=len(images))
        terms["loss"] = (o.bn * terms["bn"] + o.onehot * terms["onehot"]
                         + o.adversarial * terms["adversarial"]
                         + o.contrastive * terms["contrast"])
        return terms, images, torch.cat([local_features, global_features], dim=1)

    def synthesize_round(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor,
                                                  dict[str, torch.Tensor]]:
        o = self.options
        z = torch.randn(o.synthesis_batch, self.nz, device=self.device)
        targets = torch.randint(self.spec.num_classes, (o.synthesis_batch,),
                                device=self.device).sort().values
        reset_generator(self.generator)
        optimizer = torch.optim.Adam([{"params": self.generator.parameters()}, {"params": [z]}],
                                     lr=o.inner_lr, betas=INNER_BETAS)
        best, best_images, best_features, terms = math.inf, None, None, {}
        was_training = self.student.training
        self.student.eval()
        self.generator.train()
        try:
            with trainable(self.generator, z, self.head), frozen(self.student):
                for _ in range(o.inner_steps):
                    terms, images, features = self.inversion_terms(z, targets)
                    if best_images is None or terms["loss"].item() < best:
                        best = terms["loss"].item()
                        best_images, best_features = images.detach(), features.detach()
                    optimizer.zero_grad(set_to_none=True)
                    self.head_optimizer.zero_grad(set_to_none=True)
                    terms["loss"].backward()
                    optimizer.step()
                    self.head_optimizer.step()
        finally:
            self.student.train(was_training)
        self.feature_bank.add(best_features)
        with torch.no_grad():
            teacher_logits = self.teacher(best_images)
        logged = {k: v.detach() for k, v in terms.items()}
        logged.update(best_loss=torch.tensor(best),
                      bank=torch.tensor(float(len(self.feature_bank))))
        return best_images, teacher_logits, logged

    # -- the student ------------------------------------------------------------------------
    def distill(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                targets: torch.Tensor) -> dict[str, torch.Tensor]:
        kd = kd_kl(self.student(images), teacher_logits, self.options.temperature)
        return {"loss": kd, "kd": kd}

    # -- checkpoint state -------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {**super().state_dict(), "head": self.head.state_dict(),
                "head_optimizer": self.head_optimizer.state_dict(),
                "feature_bank": self.feature_bank.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.head.load_state_dict(state["head"])
        self.head_optimizer.load_state_dict(state["head_optimizer"])
        self.feature_bank.load_state_dict(state["feature_bank"])

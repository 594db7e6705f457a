"""NAYER: Noisy Layer Generation for Data-Free Knowledge Distillation (Tran, Le, Le, Harandi,
Tran, Phung; CVPR 2024, arXiv 2310.00258; official code github.com/tmtuan1307/nayer).

What was read: the abstract and introduction (arXiv v1/v2) and a summary of the method
figure ("the LTEs serve as input for the noisy layer Z and generator G ... joint training of
the generator, noisy layer, and student network using Eq. 5 and Eq. 6"; a "K-to-1 noisy
layer" makes several samples). The method section itself could not be read here, so the
terms below, their weights and the schedule are read from the official code
(``datafree/synthesis/nayer.py``, ``datafree/models/generator.py`` ``NLGenerator``,
``datafree_kd.py``, ``scripts/nayer_100.sh``); the equation numbers 5 and 6 are the
summary's.

Synthesis (one round; a fresh Adam (β 0.5, 0.999) per round, as the code builds one):
    x̂ = G(Z(BN1d(e_y)))        e_y a frozen label-text embedding (LTE) of class y
where Z, the *noisy layer*, is redrawn at the start of every round (weights N(0, 1), bias 0,
``re_init_le``) and then trained with G during the round. "K-to-1": the round's classes are
0..K−1 repeated, and each chunk of K consecutive samples (one per class) goes through a
noisy layer of its own, Linear(d → nz), ⌈B/K⌉ of them. G minimizes (Eq. 5)
    L_G = λ_bn·L_BN^mmt(x̂) + λ_oh·CE(T(x̂), y) − λ_adv·(1/N)Σ_i 1[S, T agree on x̂_i]·KL(T ‖ S)
on random crops/flips of x̂ (the config's ``augment``, without its mixup), λ_adv = 0 during
warm-up. L_BN^mmt is Fast-DFKD's momentum BN loss (``BNStatisticsPrior(momentum=m)``,
m = 0.9, its past statistics updated once per round). Each round keeps the images of its
lowest-loss step (``best_inputs``) in the memory of synthesized samples (the config's
``replay`` buffer).
Student (Eq. 6): τ²·KL(p_T^τ ‖ p_S^τ), τ = 20, on views of memory samples (``kd_kl``).

On the shared loop (synthesis.py): one iteration = one round + ``student.steps`` KD steps.
The code's "epoch" is one ``synthesize()`` call of ``rounds_per_epoch`` rounds (--g_loops 2)
followed by 400 KD steps, so ``student.steps`` = 400 / 2 = 200 in the CIFAR config. Its
``warmup_epochs`` (--warmup 20) first epochs synthesize ``warmup_rounds_per_epoch``
(--gwp_loops 10) rounds each with no adversarial term and no KD: here those 200 warm-up
rounds all run in iteration 0, before the student's first step, so that the student's
cosine schedule spans the KD epochs exactly as the code's does (``train.iters`` = the
post-warm-up rounds, 100 epochs × 2 = 200). G (its body, the BN1d and the noisy layers) is
rebuilt, i.e. re-initialized in place, at the first round of every epoch e with
e % generator_life = 0 or (e − warmup_epochs) % generator_life = 0 (--g_life 10; the code's
``reinit()``), counting epochs over warm-up and KD as the code does.

Exact resume: G's body is the generator player's model and the embedding + BN1d its
``parts()["generator"]`` (both in its checkpoint, trained only inside rounds:
``generator.steps: 0``; a resumed run keeps the checkpoint's embedding table); the BN
prior's past statistics are in the method's state; the noisy layers are not checkpointed
because every round redraws them before use; the rest is the loop's random streams.

Deviations, with their reasons (also in the configs' comments):
- No CLIP can be downloaded: the LTE comes from ``options.embeddings``, a file with one
  (num_classes, d) tensor the user computed offline (the code's ``label_embedding.py``
  encodes "a image of {class}" with CLIP ViT-B/32, d = 512). With ``embeddings: learned``
  (the default: no file ships) a *learned* class embedding (nn.Embedding, N(0, 1),
  d = ``embedding_dim``) stands in. It is persistent: trained by every round's optimizer
  with G and carried across rounds *and* G's rebuilds, never redrawn, because it stands
  where the constant LTE stands (every rebuilt G gets the same input table) and can only
  acquire class structure by accumulating it over rounds;
  learning it afresh per round would make it a second noise source beside Z and lose the
  "meaningful constant input" the paper credits for its few-step synthesis.
- G's body is the config's registered generator fed the noisy layer's output (nz = 1000 =
  the code's ``le_emb_size``). The configs name ``datafree``, the code's ``NLGenerator``
  body (no bias in the middle convolutions, Sigmoid pixels normalized with the dataset's
  statistics); any registered unconditional generator may stand in (``dfad``: Tanh and an
  affine-free BN instead: on the Fashion-MNIST BN pair, one seed, 80.56% against 81.35%).
- The code saves the memory as 8-bit PNGs; here it is kept in float.
- The BN prior hooks every BatchNorm of the teacher (the code: BatchNorm2d only); this only
  differs for teachers with BatchNorm1d (lenet5_bn's last hidden layer).
"""
from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from dfkd.core.errors import ConfigError
from dfkd.core.modes import eval_mode
from dfkd.data.augment import MixUp
from dfkd.discriminator_distillation.grids import rows_by_class
from dfkd.discriminator_distillation.methods.base import FORGETTING_BANK, IMAGE_BANK, PER_CLASS
from dfkd.discriminator_distillation.registry import METHODS
from dfkd.discriminator_distillation.synthesis import SynthesisMethod, frozen, trainable
from dfkd.engine.logger import RunLogger
from dfkd.losses import BNStatisticsPrior, kd_kl
from dfkd.losses.agreement import agreement_masked_kl
from dfkd.metrics.collapse import class_entropy, sample_diversity

# private seeds of the noisy layers behind the logged grids and measurements (fixed, like
# the other methods' fixed latents; drawn from their own generators, not the run's streams)
GRID_SEED, COLLAPSE_SEED, BANK_SEED = 20240001, 20240002, 20240003
LEARNED = "learned"  # options.embeddings: the learned substitute instead of a file


@dataclass
class NAYEROptions:
    """The official CIFAR-10 command (scripts/nayer_100.sh, c10r34r18) and code defaults."""

    embeddings: str = "learned"  # path of a (num_classes, d) LTE tensor file, or "learned"
    embedding_dim: int = 512  # d of the learned substitute (CLIP ViT-B/32's text width)
    synthesis_batch_size: int = 400  # --synthesis_batch_size: images per round
    steps: int = 30  # --g_steps: generator steps per round (40 on CIFAR-100)
    lr: float = 4e-3  # --lr_g: the round's Adam, betas (0.5, 0.999)
    adv: float = 1.33  # --adv: λ_adv
    bn: float = 10.0  # --bn: λ_bn
    oh: float = 0.5  # --oh: λ_oh
    bn_momentum: float = 0.9  # --bn_mmt: m of the momentum BN loss
    warmup_epochs: int = 20  # --warmup: synthesis-only epochs (no adversarial term, no KD)
    warmup_rounds_per_epoch: int = 10  # --gwp_loops
    rounds_per_epoch: int = 2  # --g_loops: rounds per epoch after warm-up
    generator_life: int = 10  # --g_life: G rebuilt every this many epochs
    temperature: float = 20.0  # --T: the student's KD temperature


def load_embeddings(path: str, num_classes: int) -> torch.Tensor:
    """The user's label-text embeddings: one (num_classes, d) float tensor saved with
    ``torch.save``; anything else is one :class:`ConfigError` line saying what to fix."""
    how = ("save one (num_classes, d) tensor with torch.save (e.g. CLIP ViT-B/32 text "
           "features of 'a photo of a {class}', one row per class in label order), or set "
           f"options.embeddings: {LEARNED} for a learned class embedding")
    if not path.strip():
        raise ConfigError(f"method nayer: options.embeddings is empty: {how}")
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"method nayer: options.embeddings: no file {file}: {how}")
    try:
        table = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ConfigError(f"method nayer: options.embeddings: {file} cannot be read "
                          f"({first}): {how}") from None
    if not isinstance(table, torch.Tensor):
        raise ConfigError(f"method nayer: options.embeddings: {file} holds a "
                          f"{type(table).__name__}, not a tensor: {how}")
    if table.dim() != 2 or table.shape[0] != num_classes or table.shape[1] < 1:
        raise ConfigError(f"method nayer: options.embeddings: {file} holds a tensor of shape "
                          f"{tuple(table.shape)}, expected ({num_classes}, d): one row per "
                          f"class of the dataset's {num_classes}")
    if not table.is_floating_point() or not torch.isfinite(table).all():
        raise ConfigError(f"method nayer: options.embeddings: {file} must hold finite floats")
    return table.float()


def k_to_1_labels(n: int, num_classes: int,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """A round's asked classes (the code's ``generate_ys``): 0..K−1 repeated ⌊n/K⌋ times,
    then n mod K random ones; so every chunk of K consecutive samples but the last holds
    each class once, and goes through a noisy layer of its own."""
    full = torch.arange(num_classes).repeat(n // num_classes)
    rest = torch.randint(num_classes, (n % num_classes,), generator=generator)
    return torch.cat([full, rest])


def reinitialize(module: nn.Module) -> None:
    """Every submodule initialized again as a freshly built one (the code's ``reinit()``),
    in place, so that whoever holds the parameters (a player's optimizer) keeps them."""
    for m in module.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
        elif any(True for _ in m.parameters(recurse=False)):
            raise ConfigError(f"nayer rebuilds the generator every generator_life epochs, but "
                              f"its {type(m).__name__} has no reset_parameters(): use a "
                              "generator built of standard layers "
                              "(e.g. generator.model: datafree)")


class NoisyLayers(nn.Module):
    """Z: ``count`` noisy layers Linear(in → out); chunk i of K consecutive inputs goes
    through layer i ("K-to-1"). :meth:`reset` redraws them (weights N(0, 1), bias 0)."""

    def __init__(self, count: int, in_features: int, out_features: int, chunk: int) -> None:
        super().__init__()
        self.chunk = chunk
        self.weight = nn.Parameter(torch.empty(count, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(count, out_features))
        self.reset()

    @torch.no_grad()
    def reset(self, generator: torch.Generator | None = None) -> None:
        """Redraw the layers: from the device's stream, or from a private CPU ``generator``."""
        if generator is None:
            self.weight.normal_(0.0, 1.0)
        else:
            self.weight.copy_(torch.randn(self.weight.shape, generator=generator))
        self.bias.zero_()

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        n = len(embeddings)
        layers = math.ceil(n / self.chunk)
        if layers > len(self.weight):
            raise ValueError(f"{n} samples need {layers} noisy layers of {self.chunk}; there "
                             f"are {len(self.weight)}")
        padded = F.pad(embeddings, (0, 0, 0, layers * self.chunk - n))
        chunks = padded.view(layers, self.chunk, -1)
        out = torch.baddbmm(self.bias[:layers].unsqueeze(1), chunks,
                            self.weight[:layers].transpose(1, 2))
        return out.reshape(layers * self.chunk, -1)[:n]


class LabelInput(nn.Module):
    """y → BN1d(e_y): the user's frozen LTE table (a buffer), or the learned substitute."""

    def __init__(self, table: torch.Tensor | None, num_classes: int, dim: int) -> None:
        super().__init__()
        if table is not None:
            self.register_buffer("text", table.clone())
            self.learned = None
        else:
            self.learned = nn.Embedding(num_classes, dim)
        self.norm = nn.BatchNorm1d(dim)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        embeddings = self.text[labels] if self.learned is None else self.learned(labels)
        return self.norm(embeddings)


@METHODS.register("nayer")
class NAYER(SynthesisMethod):
    """Rounds of G(Z(e_y)) with a redrawn noisy layer Z; the student learns from the memory."""

    Options = NAYEROptions

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        o = self.options
        classes = self.spec.num_classes
        table = None if o.embeddings == LEARNED else load_embeddings(o.embeddings, classes)
        dim = o.embedding_dim if table is None else table.shape[1]
        self.label_input = LabelInput(table, classes, dim).to(self.device)
        self.noisy = NoisyLayers(math.ceil(o.synthesis_batch_size / classes), dim, self.nz,
                                 classes).to(self.device)
        self.prior: BNStatisticsPrior | None = None
        if o.bn > 0:
            try:
                self.prior = BNStatisticsPrior(self.teacher, momentum=o.bn_momentum)
            except ConfigError:
                raise ConfigError(
                    f"method nayer: options.bn weighs a BatchNorm-statistics loss, but the "
                    f"teacher {type(self.teacher).__name__} has no BatchNorm layers: use a "
                    "teacher with BatchNorm (e.g. --teacher lenet5_bn), or set options.bn: 0 "
                    "(then it is no longer NAYER's loss)") from None
        self.warmup_rounds = o.warmup_epochs * o.warmup_rounds_per_epoch
        # the teacher sees random crops/flips of a round's images (the code's ``self.aug``);
        # never mixup blends, whose classes would no longer be the asked ones
        views = [m for m in (self.augment or []) if not isinstance(m, MixUp)]
        self.synthesis_views = nn.Sequential(*views) if views else None

    def parts(self) -> dict[str, nn.Module]:
        return {"generator": self.label_input}  # the embedding (if learned) and the BN1d

    # -- the schedule of rounds ----------------------------------------------------------
    def epoch_of(self, round_index: int) -> tuple[int, bool]:
        """(the code's epoch of a round, whether the round opens it); rounds are counted
        from the first warm-up round."""
        o = self.options
        if round_index < self.warmup_rounds:
            return (round_index // o.warmup_rounds_per_epoch,
                    round_index % o.warmup_rounds_per_epoch == 0)
        after = round_index - self.warmup_rounds
        return o.warmup_epochs + after // o.rounds_per_epoch, after % o.rounds_per_epoch == 0

    def start_round(self, round_index: int) -> bool:
        """Redraw the noisy layers; at the first round of every ``generator_life``-th epoch
        first rebuild G (body and BN1d; the embedding stays). Returns whether G was rebuilt."""
        epoch, opens = self.epoch_of(round_index)
        life, warmup = self.options.generator_life, self.options.warmup_epochs
        rebuild = opens and (epoch % life == 0 or (epoch - warmup) % life == 0)
        if rebuild:
            reinitialize(self.generator)
            reinitialize(self.label_input.norm)
        self.noisy.reset()
        return rebuild

    # -- one round ---------------------------------------------------------------------
    def generate(self, labels: torch.Tensor) -> torch.Tensor:
        """x̂ = G(Z(BN1d(e_y))) for the asked classes (K-to-1 order)."""
        return self.generator(self.noisy(self.label_input(labels)))

    def round_terms(self, images: torch.Tensor, labels: torch.Tensor,
                    adversarial: bool) -> dict[str, torch.Tensor]:
        """Eq. 5 on one step's images: λ_bn·L_BN^mmt + λ_oh·CE − λ_adv·(masked KL), all on
        the same random view of the images; the adversarial term only when ``adversarial``."""
        o = self.options
        views = self.synthesis_views(images) if self.synthesis_views is not None else images
        with self.prior if self.prior is not None else contextlib.nullcontext():
            teacher_logits = self.teacher(views)
        terms = {"oh": F.cross_entropy(teacher_logits, labels)}
        loss = o.oh * terms["oh"]
        if self.prior is not None:
            terms["bn"] = self.prior.loss()
            loss = loss + o.bn * terms["bn"]
        if adversarial and o.adv > 0:
            terms["adv_kl"] = agreement_masked_kl(self.student(views), teacher_logits)
            loss = loss - o.adv * terms["adv_kl"]
        terms["loss"] = loss
        return terms

    def one_round(self, round_index: int) -> tuple[torch.Tensor, torch.Tensor,
                                                   dict[str, torch.Tensor]]:
        """Redraw Z (and rebuild G when due), ``steps`` Adam steps on Eq. 5, keep the
        lowest-loss step's images; the momentum BN statistics then take this round's."""
        o = self.options
        rebuilt = self.start_round(round_index)
        labels = k_to_1_labels(o.synthesis_batch_size, self.spec.num_classes).to(self.device)
        adversarial = round_index >= self.warmup_rounds
        params = [*self.generator.parameters(), *self.label_input.parameters(),
                  *self.noisy.parameters()]
        optimizer = torch.optim.Adam(params, lr=o.lr, betas=(0.5, 0.999))
        best, best_loss = None, math.inf
        self.generator.train()
        self.label_input.train()
        with trainable(self.generator, self.label_input), frozen(self.student), \
                eval_mode(self.student):
            for _ in range(o.steps):
                images = self.generate(labels)
                terms = self.round_terms(images, labels, adversarial)
                value = float(terms["loss"].detach())
                if best is None or value < best_loss:
                    best, best_loss = images.detach(), value
                optimizer.zero_grad(set_to_none=True)
                terms["loss"].backward()
                optimizer.step()
        if self.prior is not None:
            self.prior.update_momentum()
        with torch.no_grad():
            teacher_logits = self.teacher(best)
        logged = {k: v.detach() for k, v in terms.items()}
        logged.update(best_loss=torch.tensor(best_loss), rebuilt=torch.tensor(float(rebuilt)))
        return best, teacher_logits, logged

    def synthesize_round(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor,
                                                  dict[str, torch.Tensor]]:
        """This iteration's round; iteration 0 first runs the warm-up rounds (each into
        the memory), so the student's first step follows them as in the code."""
        if iteration == 0:
            for round_index in range(self.warmup_rounds):
                images, teacher_logits, _ = self.one_round(round_index)
                self.remember(images, teacher_logits)
        return self.one_round(self.warmup_rounds + iteration)

    # -- the student ---------------------------------------------------------------------
    def distill(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """Eq. 6: τ²·KL(p_T^τ ‖ p_S^τ) on a memory batch (views relabelled by the teacher)."""
        kd = kd_kl(self.student(images), teacher_logits, self.options.temperature)
        return {"loss": kd, "kd": kd}

    # -- measurements and media (the base draws G(z); NAYER's G takes labels) -----------
    @torch.no_grad()
    def render(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` images of the current G and their asked classes, for noisy layers drawn
        from a private generator seeded ``seed`` (the run's random streams are untouched),
        in chunks of a round's batch, through copies of G in training mode as in the rounds
        (G's own BN statistics untouched)."""
        rng = torch.Generator().manual_seed(seed)
        generator = copy.deepcopy(self.generator).train()
        label_input = copy.deepcopy(self.label_input).train()
        noisy = copy.deepcopy(self.noisy)
        images, labels = [], []
        for start in range(0, n, self.options.synthesis_batch_size):
            size = min(self.options.synthesis_batch_size, n - start)
            asked = k_to_1_labels(size, self.spec.num_classes, rng).to(self.device)
            noisy.reset(rng)
            images.append(generator(noisy(label_input(asked))))
            labels.append(asked)
        return torch.cat(images), torch.cat(labels)

    @torch.no_grad()
    def early_bank_agreement(self, iteration: int, student: nn.Module | None = None) -> float:
        if not self.bank.filled:
            images, _ = self.render(FORGETTING_BANK, BANK_SEED)
            self.bank.capture(images, self.teacher(images), iteration)
        return self.bank.agreement(student or self.student)

    @torch.no_grad()
    def collapse_figures(self) -> dict[str, float]:
        n = max(IMAGE_BANK, self.spec.num_classes * PER_CLASS)
        images, _ = self.render(n, COLLAPSE_SEED)
        return {"class_entropy": class_entropy(self.teacher(images)),
                "sample_diversity": sample_diversity(images)}

    @torch.no_grad()
    def log_media(self, logger: RunLogger, iteration: int) -> None:
        classes = self.spec.num_classes
        images, asked = self.render(classes * PER_CLASS, GRID_SEED)
        predicted = self.teacher(images).argmax(dim=1)
        logger.image_grid("samples/by_asked_class",
                          rows_by_class(images, asked, classes, PER_CLASS), iteration,
                          nrow=PER_CLASS)
        logger.scalars({"samples/teacher_agrees_with_asked_class":
                        (predicted == asked).float().mean()}, iteration)
        logger.histogram("samples/teacher_class", predicted.float(), iteration, bins=classes)

    # -- checkpoint state ------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = super().state_dict()
        state["bn_prior"] = self.prior.state_dict() if self.prior is not None else None
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if self.prior is not None and state.get("bn_prior") is not None:
            self.prior.load_state_dict(state["bn_prior"])

"""Shared parts of the data-free (discriminator distillation) methods.

A generator G synthesizes a batch, the frozen teacher T judges it, the student S learns
from T on it. Subclasses define ``generator_loss`` (G's step) and ``distill`` (S's loss
on a student batch; a ``student_loss:`` config block replaces it); everything else lives
here: latent and label sampling, the optional BN-statistics prior on G, replay and random
views for the student, attention-transfer recorders, the forgetting bank, and the
TensorBoard grid of samples by class.
"""
from __future__ import annotations

import contextlib
import copy
from typing import Any

import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.data.specs import DatasetSpec
from dfkd.discriminator_distillation.grids import class_grid
from dfkd.discriminator_distillation.setup import DataFreeSetup, NoOptions
from dfkd.engine.logger import RunLogger
from dfkd.losses import BNStatisticsPrior, attention_transfer, member_diversity_loss
from dfkd.metrics import SyntheticBank
from dfkd.metrics.collapse import class_entropy, sample_diversity
from dfkd.nets import feature_groups
from dfkd.nets.hooks import FeatureRecorder, PairRecorder
from generators import MultiGenerator, balanced_labels, is_conditional

IMAGE_BANK = 256  # latent vectors kept fixed for the logged sample grids
PER_CLASS = 8  # samples per class row in the grid
FORGETTING_BANK = 1024  # synthetic samples kept to measure forgetting


class DataFreeMethod:
    """Base class of the data-free methods: the contract with the loop, and what they share.

    A method is built as ``Method(teacher, student, generator, options, spec, setup)``:
    ``options`` is an instance of its ``Options`` dataclass (the config's ``options:``
    section, checked when the config is read: ``dfkd.core.config.read_options``), ``spec`` the dataset's
    :class:`DatasetSpec`, ``setup`` a :class:`DataFreeSetup`. It implements
    ``generator_loss(iteration)`` (the adversary's step: a dict with ``"loss"``, the rest
    logged) and ``distill(images, teacher_logits, targets)`` (its published student loss);
    it may override ``student_inputs(iteration)`` (which batch each student step sees),
    ``parts()`` (its own learnable modules, by the player that trains them: they join that
    player's optimizer and checkpoint) and ``state_dict``/``load_state_dict`` (anything
    else it must carry across ``--resume``). The loop calls ``adversary_loss``,
    ``student_loss`` and, where the ``student_loss`` block has adversarial terms,
    ``critic_loss``; ``log_media`` draws the TensorBoard grids.
    """

    #: the method's own options (a dataclass of published defaults; config ``options:``)
    Options: type = NoOptions
    #: whether the method needs the teacher's and student's group feature maps (AT)
    uses_attention = False
    #: whether the method needs a class-conditional generator
    needs_conditional = False

    def __init__(self, teacher: nn.Module, student: nn.Module, generator: nn.Module,
                 options: Any, spec: DatasetSpec, setup: DataFreeSetup) -> None:
        name = type(self).__name__
        options = self.Options() if options is None else options
        if not isinstance(options, self.Options):
            raise TypeError(f"{name} takes a {self.Options.__name__}, got {type(options).__name__}")
        if self.needs_conditional != is_conditional(generator):
            raise ConfigError(
                f"{name} needs {'a class-conditional' if self.needs_conditional else 'an unconditional'} "
                f"generator, got {type(generator).__name__}: set generator.model to "
                f"{'conditional' if self.needs_conditional else 'dafl, dfad or zskt'}")
        self.options = options
        self.teacher = teacher.eval().requires_grad_(False)
        self.student = student
        self.generator = generator
        self.generator_ema = setup.generator_ema
        self.knowledge = setup.knowledge
        self.nz = setup.nz
        self.batch_size = setup.batch_size
        self.spec = spec
        self.device = next(generator.parameters()).device
        self.replay = setup.replay
        self.replay_ratio = setup.replay_ratio
        self.augment = setup.augment
        self.bn_weight = setup.bn_weight
        self.bn_prior = BNStatisticsPrior(self.teacher) if setup.bn_weight > 0 else None
        if setup.diversity > 0 and not isinstance(generator, MultiGenerator):
            raise ConfigError("generator.diversity compares the members of a multi-generator: "
                              "set generator.members to 2 or more")
        self.diversity = setup.diversity
        if self.diversity:
            self._teacher_output = FeatureRecorder(self.teacher, {"logits": ""})
        if self.uses_attention:
            ours, theirs = self._groups(self.teacher, "teacher"), self._groups(student, "student")
            if len(ours) != len(theirs):
                raise ConfigError(
                    f"attention transfer pairs feature groups one to one, but the teacher has "
                    f"{len(ours)} ({', '.join(ours)}) and the student {len(theirs)} "
                    f"({', '.join(theirs)}): pick a student of the same family")
            self._group_pairs = PairRecorder(self.teacher, student, list(zip(ours, theirs)))
        self.bank = SyntheticBank()
        self._batch: tuple | None = None  # (iteration, images, teacher logits, labels)
        bank_rng = torch.Generator().manual_seed(20190000)
        n_image = max(IMAGE_BANK, spec.num_classes * PER_CLASS)  # a full conditional grid
        self._image_z = torch.randn(n_image, self.nz, generator=bank_rng).to(self.device)
        self._bank_z = torch.randn(FORGETTING_BANK, self.nz, generator=bank_rng).to(self.device)

    def parts(self) -> dict[str, nn.Module]:
        """The method's own learnable modules by the player that trains them
        (``"student"`` or ``"generator"``), e.g. a projection head; none by default."""
        return {}

    @staticmethod
    def _groups(model: nn.Module, role: str) -> tuple[str, ...]:
        """The model's feature groups (attention-transfer points)."""
        try:
            return feature_groups(model)
        except ValueError as exc:
            raise ConfigError(f"attention transfer on the {role}: {exc}") from None

    # -- the generator's step -------------------------------------------------------------
    def generator_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def adversary_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """The method's generator loss, plus the shared generator terms that are on:
        ``bn_weight`` × the BN-statistics prior on the teacher forwards it made
        (DeepInversion), and ``diversity`` × the multi-generator diversity term on the
        teacher's outputs for the generated batch."""
        with contextlib.ExitStack() as stack:
            if self.bn_prior is not None:
                stack.enter_context(self.bn_prior)
            if self.diversity:
                recorded = stack.enter_context(self._teacher_output)
            terms = self.generator_loss(iteration)
        if self.bn_prior is not None:
            terms["bn"] = self.bn_prior.loss()
            terms["loss"] = terms["loss"] + self.bn_weight * terms["bn"]
        if self.diversity:
            terms["diversity"] = member_diversity_loss(recorded["logits"], self.generator.sizes)
            terms["loss"] = terms["loss"] + self.diversity * terms["diversity"]
        return terms

    # -- sampling ---------------------------------------------------------------------------
    def labels(self, n: int) -> torch.Tensor:
        """Class-balanced labels to ask a conditional generator for."""
        return balanced_labels(n, self.spec.num_classes, self.device)

    def sample(self, generator: nn.Module | None = None, labels: torch.Tensor | None = None,
               n: int | None = None, z: torch.Tensor | None = None) -> torch.Tensor:
        """A batch ``G(z)`` (or ``G(z, labels)``), keeping the graph to G: of the given
        latents ``z``, else of ``n`` fresh ones, z ~ N(0, I) (default: the batch size, or one
        per label)."""
        if z is None:
            n = n or (self.batch_size if labels is None else len(labels))
            z = torch.randn(n, self.nz, device=self.device)
        generator = generator or self.generator
        return generator(z, labels) if is_conditional(generator) else generator(z)

    def keep_batch(self, iteration: int, images: torch.Tensor, teacher_logits: torch.Tensor,
                   labels: torch.Tensor | None = None) -> None:
        """Keep the generator step's batch for this iteration's student steps, and offer it
        to the replay buffer."""
        self._batch = (iteration, images.detach(), teacher_logits.detach(), labels)
        self.remember(images, teacher_logits)

    def generated_batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor,
                                                       torch.Tensor | None]:
        """``(images, teacher logits, labels)`` kept by this iteration's generator step, or a
        fresh batch where there was none (e.g. generator.steps = 0)."""
        if self._batch is None or self._batch[0] != iteration:
            with torch.no_grad():
                labels = self.labels(self.batch_size) if self.needs_conditional else None
                images = self.sample(labels=labels)
                self.keep_batch(iteration, images, self.teacher(images), labels)
        return self._batch[1:]

    @torch.no_grad()
    def synthesize(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images for fixed latents, from a copy of G (so G's BN running statistics are not
        touched), in training mode as during the run."""
        generator = copy.deepcopy(self.generator).train()
        if is_conditional(generator):
            if labels is None:
                labels = torch.arange(len(z), device=z.device) % self.spec.num_classes
            return generator(z, labels)
        return generator(z)

    # -- the student's step -----------------------------------------------------------------
    def student_inputs(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(images, teacher logits, class targets)`` for one student step: by default the
        generator step's batch, with replay and views (``student_batch``)."""
        return self.student_batch(*self.generated_batch(iteration))

    def distill(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """The method's published student loss on one student batch."""
        raise NotImplementedError

    def idle_student_loss(self, why: str, key: str) -> dict[str, torch.Tensor]:
        """A student step that learns nothing (``why``: e.g. "mad's generator pretraining
        takes no student step"):
        a constant whose backward reaches no weight, so the optimizer skips every parameter
        (no weight decay, no momentum step); logged as ``key`` = 1. The float16 loss scaler
        refuses such a step, so under CUDA autocast it is one ConfigError line."""
        if torch.is_autocast_enabled("cuda"):
            raise ConfigError(f"{why}, which the float16 loss scaler refuses: set "
                              "train.amp: false or options.warmup_rounds: 0")
        return {"loss": torch.zeros((), device=self.device, requires_grad=True),
                key: torch.ones(())}

    def student_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """The method's own student loss, or the ``student_loss:`` terms where given."""
        images, teacher_logits, targets = self.student_inputs(iteration)
        if self.knowledge is not None:
            return self.knowledge(images, targets, teacher_logits)
        return self.distill(images, teacher_logits, targets)

    def critic_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        """The critic's step (only with adversarial ``student_loss`` terms): their
        discriminators learn to tell the teacher's outputs from the student's on a student
        batch, ½[L(D(z_t), real) + L(D(z_s), fake)]."""
        images, teacher_logits, targets = self.student_inputs(iteration)
        return self.knowledge.critic_loss(images, targets, teacher_logits)

    # -- the student's data ---------------------------------------------------------------
    def remember(self, images: torch.Tensor, teacher_logits: torch.Tensor) -> None:
        """Offer a freshly synthesized batch to the replay buffer (if there is one)."""
        if self.replay is not None:
            self.replay.add(images.detach(), teacher_logits.detach())

    def mix_replay(self, images: torch.Tensor,
                   teacher_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Replace ``replay_ratio`` of a student batch with stored samples; also returns how
        many fresh samples lead the batch."""
        if self.replay is None or len(self.replay) == 0 or self.replay_ratio == 0:
            return images, teacher_logits, len(images)
        n_old = round(len(images) * self.replay_ratio)
        old_images, old_logits = self.replay.sample(n_old)
        n_new = len(images) - n_old
        return (torch.cat([images[:n_new], old_images]),
                torch.cat([teacher_logits[:n_new], old_logits]), n_new)

    def student_batch(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                      labels: torch.Tensor | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """What the student learns from: replay mixed in, then (with ``augment``) random
        views of the images, which the teacher labels afresh. Returns images, teacher
        logits, and class targets: the asked ``labels`` for fresh samples where given, the
        teacher's class otherwise."""
        images, teacher_logits, n_new = self.mix_replay(images, teacher_logits)
        targets = teacher_logits.argmax(dim=1)
        if labels is not None:
            targets = torch.cat([labels[:n_new], targets[n_new:]])
        if self.augment is None:
            return images, teacher_logits, targets
        with torch.no_grad():
            views = self.augment(images)
            return views, self.teacher(views), targets

    def with_attention(self, images: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Student logits, teacher logits and the attention-transfer loss between their
        group feature maps on ``images`` (ZSKT, CGDD); the teacher runs without a graph."""
        with self._group_pairs as rec:
            with torch.no_grad():
                teacher_logits = self.teacher(images)
            student_logits = self.student(images)
        return (student_logits, teacher_logits,
                attention_transfer(rec.student_maps, rec.teacher_maps))

    # -- checkpoint state -------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"replay": self.replay.state_dict() if self.replay is not None else None,
                "bank": self.bank.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if self.replay is not None and state.get("replay") is not None:
            self.replay.load_state_dict(state["replay"])
        if state.get("bank") is not None:
            self.bank.load_state_dict(state["bank"])

    # -- measurements and media -----------------------------------------------------------
    @torch.no_grad()
    def early_bank_agreement(self, iteration: int, student: nn.Module | None = None) -> float:
        """Student-teacher agreement on a fixed bank of synthetic samples, captured the first
        time this is called (the forgetting measure; see ``dfkd.metrics.forgetting``)."""
        if not self.bank.filled:
            images = self.synthesize(self._bank_z)
            self.bank.capture(images, self.teacher(images), iteration)
        return self.bank.agreement(student or self.student)

    @torch.no_grad()
    def collapse_figures(self) -> dict[str, float]:
        """Mode-collapse signs on the fixed latents of the sample grid
        (``dfkd.metrics.collapse``): the teacher-class entropy and the sample diversity."""
        images = self.synthesize(self._image_z)
        return {"class_entropy": class_entropy(self.teacher(images)),
                "sample_diversity": sample_diversity(images)}

    @torch.no_grad()
    def log_media(self, logger: RunLogger, iteration: int) -> None:
        """A grid with one row per class (the asked class for a conditional generator, the
        teacher's class otherwise), and the histogram of teacher classes, to TensorBoard."""
        num_classes = self.spec.num_classes
        generator = copy.deepcopy(self.generator).train()  # G's BN statistics stay untouched
        grid, predicted, asked = class_grid(generator, self.teacher, self._image_z, num_classes,
                                            PER_CLASS)
        if asked is not None:
            logger.image_grid("samples/by_asked_class", grid, iteration, nrow=PER_CLASS)
            hits = (predicted == asked).float().mean()
            logger.scalars({"samples/teacher_agrees_with_asked_class": hits}, iteration)
        else:
            logger.image_grid("samples/by_teacher_class", grid, iteration, nrow=PER_CLASS)
            counts = torch.bincount(predicted, minlength=num_classes).tolist()
            found = [f"{self.spec.class_name(k)}: {c}" for k, c in enumerate(counts)]
            logger.text("samples/rows", f"rows, top to bottom (count of {len(predicted)}): "
                        + ", ".join(found), iteration)
        logger.histogram("samples/teacher_class", predicted.float(), iteration, bins=num_classes)

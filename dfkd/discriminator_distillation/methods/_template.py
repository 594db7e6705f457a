"""TEMPLATE of a data-free method: copy it to ``methods/<name>.py`` (a file whose name starts
with ``_`` is not registered), write ``configs/<name>/<dataset>.yaml``, and nothing else.

<Title> (<Authors>, <Venue Year>), replace this paragraph: name the equations implemented,
    L_G = −α·KL(p_T(x) ‖ p_S(x)),  x = G(z)            (eq. N: the generator's step)
    L_S = KL(p_T(x) ‖ p_S(h(x)))                        (eq. M: the student's step)
with h a learnable head of the method's own (here only to show where such a part lives),
and every deviation from the paper, with its reason (also in the config's comments).

The contract (``DataFreeMethod`` holds the rest: sampling, replay, views, the BN prior,
multi-generator diversity, forgetting bank, grids):
- ``Options``: a dataclass of the method's own settings with the published defaults; the
  config's ``options:`` section is read into it when the config is read, so a misspelt
  or mistyped key is one error line naming the key and the method.
- ``generator_loss(iteration)``: the adversary's step; returns ``{"loss": ..., **logged}``.
  Keep the batch for the student with ``keep_batch`` (else each student step samples anew).
- ``distill(images, teacher_logits, targets)``: the published student loss on one student
  batch (a ``student_loss:`` block in the config replaces it).
- optional: ``student_inputs(iteration)`` (which batch each student step sees: default the
  generator step's batch with replay and views), ``parts()`` (learnable modules by the
  player that trains them, ``"student"`` or ``"generator"``: they join its optimizer and
  checkpoint), ``state_dict``/``load_state_dict`` (any other state ``--resume`` needs;
  call ``super()``'s), ``uses_attention``/``needs_conditional``.
- the critic's step (``critic_loss``, only with adversarial ``student_loss`` terms) and
  ``log_media`` are inherited; override them only with a reason.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from dfkd.discriminator_distillation.methods.base import DataFreeMethod
from dfkd.discriminator_distillation.registry import METHODS
from dfkd.losses import kd_kl


@dataclass
class TemplateOptions:
    """The paper's settings and their published values (cite table/section)."""

    adversarial: float = 1.0  # α of eq. N
    temperature: float = 1.0  # τ of both KL terms


@METHODS.register("template")
class Template(DataFreeMethod):
    """One line: what the generator seeks and what the student learns."""

    Options = TemplateOptions

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        classes = self.spec.num_classes
        self.head = nn.Linear(classes, classes).to(self.device)  # h: trains with the student
        with torch.no_grad():
            self.head.weight.copy_(torch.eye(classes))
            self.head.bias.zero_()

    def parts(self) -> dict[str, nn.Module]:
        return {"student": self.head}

    def generator_loss(self, iteration: int) -> dict[str, torch.Tensor]:
        images = self.sample()
        teacher_logits = self.teacher(images)
        gap = kd_kl(self.head(self.student(images)), teacher_logits, self.options.temperature)
        self.keep_batch(iteration, images, teacher_logits)
        return {"loss": -self.options.adversarial * gap, "gap": gap}

    def distill(self, images: torch.Tensor, teacher_logits: torch.Tensor,
                targets: torch.Tensor) -> dict[str, torch.Tensor]:
        kd = kd_kl(self.head(self.student(images)), teacher_logits, self.options.temperature)
        return {"loss": kd, "kd": kd}

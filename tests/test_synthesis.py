"""The inversion family's shared shape (dfkd.discriminator_distillation.synthesis), the loop's
begin_iteration hook, and the BatchNorm LeNet-5 teacher."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.data.specs import DatasetSpec
from dfkd.discriminator_distillation.replay import ReplayBuffer
from dfkd.discriminator_distillation.setup import DataFreeSetup
from dfkd.discriminator_distillation.synthesis import SynthesisMethod, trainable
from dfkd.engine import AdversarialLoop, Player
from dfkd.engine.config import PlayerConfig
from dfkd.nets import build_model
from generators import build_generator

SPEC = DatasetSpec("tiny", 1, 8, 10, (0.0,), (1.0,))


class Rounds(SynthesisMethod):
    """A round: a fresh batch of noise images, pushed by a few steps of its own optimizer
    toward the class the teacher gives the first one (a stand-in inner optimization)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rounds: list[int] = []

    def synthesize_round(self, iteration):
        self.rounds.append(iteration)
        x = torch.randn(4, 1, 8, 8, requires_grad=True)
        optimizer = torch.optim.Adam([x], lr=0.1)
        losses = []
        for _ in range(3):
            loss = -self.teacher(x)[:, 0].mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        return x.detach(), self.teacher(x).detach(), {"first": losses[0], "last": losses[-1]}

    def distill(self, images, teacher_logits, targets):
        loss = nn.functional.cross_entropy(self.student(images), targets)
        return {"loss": loss}


def make(tiny_classifier, replay: int | None = 64, bn_weight: float = 0.0):
    torch.manual_seed(0)
    teacher, student = tiny_classifier(), tiny_classifier()
    generator = build_generator("dafl", 8, 4, 8, 1, 10)
    setup = DataFreeSetup(nz=8, batch_size=6, bn_weight=bn_weight,
                          replay=ReplayBuffer(replay) if replay else None, replay_ratio=1.0)
    return Rounds(teacher, student, generator, None, SPEC, setup)


def test_a_round_is_synthesized_once_per_iteration_into_the_memory(tiny_classifier):
    method = make(tiny_classifier)
    logged = method.begin_iteration(0)
    assert set(logged) == {"synthesis/first", "synthesis/last"}
    assert logged["synthesis/last"] < logged["synthesis/first"]  # its own optimizer worked
    assert method.begin_iteration(0) == {} and method.rounds == [0] and len(method.replay) == 4
    images, logits, targets = method.student_inputs(0)
    assert images.shape == (6, 1, 8, 8)  # the batch size, drawn from the 4 stored samples
    stored = {tuple(row.flatten().tolist()) for row in method.replay.images[:4]}
    assert all(tuple(row.flatten().tolist()) in stored for row in images)
    assert torch.equal(targets, logits.argmax(1))


def test_the_memory_is_required(tiny_classifier):
    with pytest.raises(ConfigError, match="Rounds trains the student on the memory of "
                                          "synthesized samples: set replay.capacity"):
        make(tiny_classifier, replay=None)


def test_the_generators_bn_prior_is_refused_beside_the_methods_own(tiny_classifier):
    with pytest.raises(ConfigError, match="^rounds weighs its BN-statistics term with "
                                          "options.bn: set generator.bn_weight: 0$"):
        make(tiny_classifier, bn_weight=1.0)


def test_an_outer_generator_step_is_refused_where_the_method_has_none(tiny_classifier):
    with pytest.raises(ConfigError, match="set generator.steps: 0"):
        make(tiny_classifier).generator_loss(0)


def test_trainable_turns_gradients_on_inside_the_block_only():
    frozen = nn.Linear(2, 2).requires_grad_(False)
    mixed = nn.Linear(2, 2)
    mixed.bias.requires_grad_(False)
    z = torch.zeros(3)
    with trainable(frozen, mixed, z):
        assert all(p.requires_grad for p in (*frozen.parameters(), *mixed.parameters(), z))
    assert not any(p.requires_grad for p in frozen.parameters())
    assert mixed.weight.requires_grad and not mixed.bias.requires_grad and not z.requires_grad


def test_the_loop_calls_begin_iteration_before_the_phases(tiny_classifier, tmp_path):
    method = make(tiny_classifier)
    order = []
    student_loss = method.student_loss
    method.student_loss = lambda it: (order.append(("student", it)), student_loss(it))[1]
    begin = method.begin_iteration
    method.begin_iteration = lambda it: (order.append(("begin", it)), begin(it))[1]
    player = Player.from_config("student", method.student, PlayerConfig(steps=2), 2)
    generator = Player.from_config("generator", method.generator, PlayerConfig(steps=0), 2)
    loop = AdversarialLoop(method, player, generator, 2, tmp_path, eval_every=10)
    losses = loop.step(0)
    assert order == [("begin", 0), ("student", 0), ("student", 0)]
    assert "synthesis/last" in losses and method.rounds == [0]


def test_lenet5_bn_is_a_batchnorm_teacher_of_lenet5s_shape():
    plain, bn = build_model("lenet5", 1, 10), build_model("lenet5_bn", 1, 10)
    norms = [m for m in bn.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert [m.num_features for m in norms] == [6, 16, 120, 84]
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in plain.modules())
    assert bn(torch.zeros(2, 1, 32, 32)).shape == (2, 10)
    # lenet5's weights keep their names: DAFL-code checkpoints still load into it
    assert set(plain.state_dict()) <= set(bn.state_dict())

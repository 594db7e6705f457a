"""The shared adversarial loop: who updates, EMA, schedules, NaN guard, exact resume."""

import pytest
import torch
from conftest import TinyClassifier, make_method
from torch.utils.data import TensorDataset

from dfkd.data.specs import DatasetSpec
from dfkd.engine import AdversarialLoop, DivergenceError, Player, lr_factor
from dfkd.engine.config import OptimConfig, PlayerConfig, ScheduleConfig
from dfkd.metrics import accuracy
from generators import build_generator

SPEC = DatasetSpec("tiny", 1, 8, 10, (0.0,), (1.0,))


def build(method="dfad", seed=0, student_steps=2, ema=0.0, schedule=None):
    torch.manual_seed(seed)
    teacher = TinyClassifier(width=6)
    student = TinyClassifier(width=3)
    generator = build_generator("dafl", nz=8, ngf=4, img_size=8, channels=1)
    gcfg = PlayerConfig(optim=OptimConfig("adam", lr=1e-2), ema=ema,
                        schedule=schedule or ScheduleConfig())
    scfg = PlayerConfig(steps=student_steps, optim=OptimConfig("sgd", lr=0.1))
    gp = Player.from_config("generator", generator, gcfg, total_iters=6)
    sp = Player.from_config("student", student, scfg, total_iters=6)
    m = make_method(method, teacher, student, generator, SPEC, nz=8, batch_size=16)
    return teacher, student, generator, gp, sp, m


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("method", ["dafl", "dfad"])
def test_each_phase_updates_only_its_player(method, tmp_path):
    teacher, student, generator, gp, sp, m = build(method)
    loop = AdversarialLoop(m, sp, gp, 6, tmp_path)
    t0, s0, g0 = params(teacher), params(student), params(generator)
    loop._phase(gp, m.adversary_loss, 0)
    assert not same(g0, params(generator)), "generator step must change the generator"
    assert same(s0, params(student)), "generator step must not change the student"
    g1 = params(generator)
    loop._phase(sp, m.student_loss, 0)
    assert not same(s0, params(student))
    assert same(g1, params(generator))
    assert same(t0, params(teacher)), "the teacher is frozen"
    assert all(p.grad is None for p in teacher.parameters())


def test_adversary_phase_leaves_no_gradients_on_student(tmp_path):
    _, student, _, gp, sp, m = build("dfad")
    AdversarialLoop(m, sp, gp, 6, tmp_path)._phase(gp, m.adversary_loss, 0)
    assert all(p.grad is None for p in student.parameters())


def test_student_steps_per_iteration(tmp_path):
    _, _, _, gp, sp, m = build("dfad", student_steps=3)
    calls = {"adv": 0, "stu": 0}
    adv, stu = m.adversary_loss, m.student_loss
    m.adversary_loss = lambda it: (calls.__setitem__("adv", calls["adv"] + 1), adv(it))[1]
    m.student_loss = lambda it: (calls.__setitem__("stu", calls["stu"] + 1), stu(it))[1]
    AdversarialLoop(m, sp, gp, 2, tmp_path, eval_every=100).run()
    assert calls == {"adv": 2, "stu": 6}


def test_ema_copy_follows_momentum_arithmetic(tmp_path):
    _, _, generator, gp, sp, m = build("dfad", ema=0.9)
    loop = AdversarialLoop(m, sp, gp, 6, tmp_path)
    loop._phase(gp, m.adversary_loss, 0)  # first update copies the parameters
    first = params(generator)
    assert same(first, params(gp.ema.module))
    loop._phase(gp, m.adversary_loss, 1)
    for ema_p, old, new in zip(gp.ema.module.parameters(), first, generator.parameters()):
        torch.testing.assert_close(ema_p, 0.9 * old + 0.1 * new.detach())


def test_schedules():
    step = ScheduleConfig("step", milestones=[2, 4], gamma=0.1)
    assert [lr_factor(step, i, 10) for i in (0, 1, 2, 3, 4)] == pytest.approx([1, 1, .1, .1, .01])
    cos = ScheduleConfig("cosine", min_lr_ratio=0.1)
    assert lr_factor(cos, 0, 10) == pytest.approx(1.0)
    assert lr_factor(cos, 5, 10) == pytest.approx(0.55)
    assert lr_factor(cos, 10, 10) == pytest.approx(0.1)
    linear = ScheduleConfig("linear")  # pix2pix: constant for half the run, then down to 0
    assert [lr_factor(linear, i, 10) for i in (0, 5, 6, 8, 10)] == pytest.approx([1, 1, .8, .4, 0])
    late = ScheduleConfig("linear", horizon=8, min_lr_ratio=0.5)
    assert [lr_factor(late, i, 10) for i in (7, 8, 9, 10)] == pytest.approx([1, 1, .75, .5])


def test_nan_loss_stops_with_named_player(tmp_path):
    _, _, _, gp, sp, m = build("dfad")
    m.student_loss = lambda it: {"loss": torch.tensor(float("nan"), requires_grad=True)}
    with pytest.raises(DivergenceError, match="student loss is nan at iteration 0"):
        AdversarialLoop(m, sp, gp, 3, tmp_path).run()


@pytest.mark.parametrize("method", ["dafl", "dfad"])
def test_resume_equals_uninterrupted_run(method, tmp_path):
    sched = ScheduleConfig("step", milestones=[3], gamma=0.5)
    test_set = TensorDataset(torch.randn(20, 1, 8, 8), torch.arange(20) % 10)

    def make(out):
        _, student, generator, gp, sp, m = build(method, ema=0.5, schedule=sched)
        loop = AdversarialLoop(m, sp, gp, 6, out, eval_every=2,
                               evaluate=lambda: {"acc": accuracy(student, test_set)})
        return student, generator, gp, loop

    student_a, generator_a, gp_a, straight = make(tmp_path / "a")
    straight.run()

    _, _, _, first = make(tmp_path / "b")
    first.total_iters = 3  # stop after 3 of 6 iterations
    first.eval_every = 3
    first.run()
    torch.randn(100)  # disturb the global RNG: resume must restore it
    student_b, generator_b, gp_b, second = make(tmp_path / "b")
    second.resume(tmp_path / "b" / "latest.pt")
    assert second.iteration == 3
    # the first part's CPU time comes back with the checkpoint and the second adds to it
    assert second.cpu_seconds == first.cpu_seconds > 0
    second.run()
    assert second.cpu_seconds > first.cpu_seconds
    assert torch.load(tmp_path / "b" / "latest.pt", weights_only=False)[
        "cpu_seconds"] == second.cpu_seconds

    for a, b in ((student_a, student_b), (generator_a, generator_b), (gp_a.ema, gp_b.ema)):
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
            assert torch.equal(x, y), name
    assert gp_a.optimizer.param_groups[0]["lr"] == gp_b.optimizer.param_groups[0]["lr"] == 5e-3
    assert (tmp_path / "b" / "best.pt").exists()


def test_resume_refuses_other_run(tmp_path):
    _, _, _, gp, sp, m = build("dfad")
    loop = AdversarialLoop(m, sp, gp, 2, tmp_path, identity={"method": "dfad"})
    loop.run()
    _, _, _, gp2, sp2, m2 = build("dfad")
    other = AdversarialLoop(m2, sp2, gp2, 4, tmp_path, identity={"method": "dafl"})
    with pytest.raises(Exception, match="method='dfad'"):
        other.resume(tmp_path / "latest.pt")


def test_accuracy_does_not_touch_global_rng():
    data = TensorDataset(torch.randn(10, 1, 8, 8), torch.arange(10) % 10)
    model = TinyClassifier()
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    accuracy(model, data, batch_size=4)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("method", ["dafl", "dfad"])
def test_student_batches_mix_replayed_samples(method):
    from dfkd.discriminator_distillation.replay import ReplayBuffer

    torch.manual_seed(0)
    teacher, student = TinyClassifier(width=6), TinyClassifier(width=3)
    generator = build_generator("dafl", nz=8, ngf=4, img_size=8, channels=1)
    buffer = ReplayBuffer(64, "fifo")
    m = make_method(method, teacher, student, generator, SPEC, nz=8, batch_size=16,
                    replay=buffer, replay_ratio=0.25)
    seen = []
    student.forward = lambda x: (seen.append(x), TinyClassifier.forward(student, x))[1]
    m.adversary_loss(0)
    m.student_loss(0)
    assert len(buffer) == 16  # each fresh batch is stored once
    stored = {tuple(x.flatten()[:4].tolist()) for x in buffer.images[:16]}
    last = seen[-1]
    assert len(last) == 16
    from_buffer = sum(tuple(x.flatten()[:4].tolist()) in stored for x in last)
    assert from_buffer == 16  # 12 fresh (just stored) + 4 replayed, all known to the buffer
    m.adversary_loss(1)
    m.student_loss(1)
    assert len(buffer) == 32

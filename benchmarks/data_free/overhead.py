"""Loop overhead: the shared adversarial loop against a minimal hand-written PyTorch loop
with the same models, batch and steps (DFAD's game), timed in this process."""
from __future__ import annotations

import copy
import statistics
import time
from pathlib import Path

from benchmarks import OUT


def build_pair(method: str):
    """The shared loop's ``step`` and a hand-written DFAD step on identical copies."""
    import torch

    from dfkd.core.config import build_config, read_options
    from dfkd.data import get_spec
    from dfkd.discriminator_distillation import METHODS as REGISTRY
    from dfkd.discriminator_distillation.config import DFKDConfig
    from dfkd.discriminator_distillation.methods import DataFreeSetup
    from dfkd.engine import AdversarialLoop, Player, build_optimizer
    from dfkd.engine.teacher import load_teacher
    from dfkd.nets import build_model
    from generators import build_generator

    if method != "dfad":
        raise ValueError("the hand-written reference loop is DFAD's")
    cfg = build_config(DFKDConfig(), [Path("configs/dfad/fashion_mnist.yaml")])
    spec = get_spec("fashion_mnist")
    teacher, _ = load_teacher("lenet5", "fashion_mnist")
    torch.manual_seed(0)
    student = build_model(cfg.student.model, in_channels=1, num_classes=10)
    generator = build_generator(cfg.generator.model, cfg.generator.nz, cfg.generator.ngf,
                                spec.image_size, 1).to(memory_format=torch.channels_last)
    student2, generator2 = copy.deepcopy(student), copy.deepcopy(generator)
    batch, nz, n_s = cfg.train.batch_size, cfg.generator.nz, cfg.student.steps

    sp = Player.from_config("student", student, cfg.student, cfg.train.iters)
    gp = Player.from_config("generator", generator, cfg.generator, cfg.train.iters)
    dfad = REGISTRY.get("dfad")
    m = dfad(teacher, student, generator, read_options(dfad.Options, cfg.options, "dfad"), spec,
             DataFreeSetup(nz=nz, batch_size=batch))
    loop = AdversarialLoop(m, sp, gp, cfg.train.iters, OUT / "runs" / "overhead")

    opt_s = build_optimizer(student2.parameters(), cfg.student.optim)
    opt_g = build_optimizer(generator2.parameters(), cfg.generator.optim)

    def manual_step(_: int) -> None:
        x = generator2(torch.randn(batch, nz))
        loss_g = -(student2(x) - teacher(x)).abs().mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        for _ in range(n_s):
            with torch.no_grad():
                x = generator2(torch.randn(batch, nz))
                t = teacher(x)
            loss_s = (student2(x) - t).abs().mean()
            opt_s.zero_grad()
            loss_s.backward()
            opt_s.step()

    return loop.step, manual_step


def loop_overhead(method: str = "dfad", blocks: int = 40, iters_per_block: int = 1) -> dict:
    """Time the shared loop and a hand-written loop in alternating blocks (ABBA order,
    so drifts in machine load hit both alike). The ratio is the median over blocks of
    shared/manual time of the two runs adjacent in time, which cancels slow load drifts."""
    shared_step, manual_step = build_pair(method)
    for step in (shared_step, manual_step):  # warm-up
        step(0)
    times: dict[str, list[float]] = {"shared": [], "manual": []}
    pair = [("shared", shared_step), ("manual", manual_step)]
    for block in range(blocks):
        for name, step in (pair if block % 2 == 0 else pair[::-1]):
            start = time.perf_counter()
            for i in range(iters_per_block):
                step(i)
            times[name].append((time.perf_counter() - start) / iters_per_block)
    shared, manual = statistics.median(times["shared"]), statistics.median(times["manual"])
    block_ratios = sorted(a / b for a, b in zip(times["shared"], times["manual"]))
    return {"method": method, "shared_s_per_iter": shared, "manual_s_per_iter": manual,
            "ratio": statistics.median(block_ratios), "block_ratio_quartiles": [
                block_ratios[len(block_ratios) // 4], block_ratios[3 * len(block_ratios) // 4]],
            "blocks": blocks, "iters_per_block": iters_per_block}

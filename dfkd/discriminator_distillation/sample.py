"""Write a grid of a trained generator's samples, one row per class (``tools/sample.py``).

    python tools/sample.py runs/cgdd_lenet5_lenet5_half_fashion_mnist --per-class 10

A class-conditional generator (CGDD) is asked for each class in turn, so row k is what
G(z, k) draws, and the teacher's agreement with the asked class is printed. An
unconditional generator's samples are sorted into rows by the teacher's predicted class,
with the count per class (the class balance of the synthetic data). A run of several
teachers (``teacher_ckpt`` a list) sorts by their ensemble; amalgamation's group-stack
generator is rebuilt from the teachers' block shapes.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torchvision.utils import save_image

from dfkd.cli import add_common_args
from dfkd.core.config import merge, read_yaml
from dfkd.core.errors import CheckpointError, DfkdError
from dfkd.core.io import safe_load
from dfkd.data import get_spec
from dfkd.discriminator_distillation.config import DFKDConfig
from dfkd.discriminator_distillation.grids import class_grid
from dfkd.discriminator_distillation.multi_teacher import as_multi_teacher, load_teachers_of
from dfkd.engine.run import resolve_device
from dfkd.engine.teacher import load_teacher
from dfkd.nets import model_ref
from generators import build_generator, is_conditional

RUN_KEYS = ("method", "dataset", "data_root", "teacher", "teacher_ckpt", "generator",
            "options")

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="run folder of tools/train_dfkd.py (holds config.yaml)")
    parser.add_argument("--checkpoint", default="latest.pt", help="latest.pt or best.pt")
    parser.add_argument("--per-class", type=int, default=8, help="images per row")
    parser.add_argument("--ema", action="store_true",
                        help="sample the momentum (EMA) generator instead (MAD)")
    parser.add_argument("--out", default=None, help="PNG path (default RUN/samples.png)")
    add_common_args(parser)
    return parser.parse_args(argv)


def run_config(run: Path) -> DFKDConfig:
    """The sections of the run's config.yaml that make its generator and teacher."""
    if not (run / "config.yaml").exists():
        raise DfkdError(f"{run} has no config.yaml: pass the run folder that "
                        "tools/train_dfkd.py --out wrote")
    # only those sections: a run written before a config key was renamed (e.g. loss: ->
    # options:) is still sampled
    saved = read_yaml(run / "config.yaml")
    if "loss" in saved and "options" not in saved:
        saved["options"] = saved["loss"]
    return merge(DFKDConfig(), {k: saved[k] for k in RUN_KEYS if k in saved})


def load_run_generator(run: Path, checkpoint: str, ema: bool, device: torch.device,
                       teacher: torch.nn.Module | None = None):
    """The run's config and its generator with the checkpoint's weights (``teacher``: the
    run's, needed to rebuild amalgamation's group-stack generator)."""
    cfg = run_config(run)
    spec = get_spec(cfg.dataset, cfg.data_root or None)
    state = safe_load(run / checkpoint)
    try:
        player = state["players"]["generator"]
    except (KeyError, TypeError):
        raise CheckpointError(f"{run / checkpoint} is not a data-free training "
                              "checkpoint") from None
    if cfg.method == "amalgamation":
        if teacher is None:
            raise DfkdError("amalgamation's generator is rebuilt from its teachers: pass them")
        if ema:
            raise DfkdError(f"{run} (amalgamation) has no momentum generator: drop --ema")
        from dfkd.discriminator_distillation.methods.amalgamation import (
            AmalgamationOptions,
            stack_generator,
        )

        width = cfg.options.get("group_width", AmalgamationOptions.group_width)
        generator = stack_generator(as_multi_teacher(teacher, spec.num_classes).members[0],
                                    spec, cfg.generator.nz, width)
        prefix = "method.stack."
        generator.load_state_dict({k[len(prefix):]: v for k, v in player["aux"].items()
                                   if k.startswith(prefix)})
        return cfg, spec, generator.to(device).train()
    generator = build_generator(cfg.generator.model, cfg.generator.nz, cfg.generator.ngf,
                                spec.image_size, spec.in_channels, spec.num_classes,
                                cfg.generator.members, spec.mean, spec.std)
    if ema:
        if player.get("ema") is None:
            raise DfkdError(f"{run} was trained without a momentum generator (generator.ema): "
                            "drop --ema")
        weights = {k[len("module."):]: v for k, v in player["ema"].items()
                   if k.startswith("module.")}
    else:
        weights = player["model"]
    generator.load_state_dict(weights)
    return cfg, spec, generator.to(device).train()


@torch.no_grad()
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = resolve_device(args.device or "cpu")
    run = Path(args.run)
    cfg = run_config(run)
    ref = model_ref(cfg.teacher, "teacher", cfg.teacher_ckpt)
    data_root = args.data_root or cfg.data_root or None
    if isinstance(cfg.teacher_ckpt, list):  # teachers of class subsets: their ensemble
        teacher, _ = load_teachers_of(ref, cfg.dataset, data_root, str(device))
    else:
        teacher, _ = load_teacher(ref.name, cfg.dataset, ref.ckpt or None, kwargs=ref.kwargs,
                                  data_root=data_root, device=str(device))
    cfg, spec, generator = load_run_generator(run, args.checkpoint, args.ema, device, teacher)
    torch.manual_seed(args.seed or 0)
    k, per = spec.num_classes, args.per_class
    n = k * per if is_conditional(generator) else max(256, 4 * k * per)
    z = torch.randn(n, cfg.generator.nz, device=device)
    grid, predicted, asked = class_grid(generator, teacher, z, k, per)
    if asked is not None:
        agree = float((predicted == asked).float().mean()) * 100
        summary = (f"rows: asked classes 0..{k - 1}; teacher agrees with the asked class on "
                   f"{agree:.1f}%")
    else:
        counts = torch.bincount(predicted, minlength=k).tolist()
        summary = "rows by teacher class (count of %d): %s" % (n, ", ".join(
            f"{spec.class_name(c)} {counts[c]}" for c in range(k)))
    out = Path(args.out) if args.out else run / "samples.png"
    save_image(grid.float().cpu(), out, nrow=per, normalize=True, scale_each=True, pad_value=1.0)
    print(summary)
    print(f"wrote {out}")
    return 0

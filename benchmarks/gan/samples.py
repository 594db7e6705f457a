"""The sample grid of a task: input, (pix2pix) target, teacher and every student of one
seed, on the first test inputs: ``gan_compression_<task>.png``."""
from __future__ import annotations

from pathlib import Path

from benchmarks.gan.plan import Run, row_order
from benchmarks.plots import image_rows


def grid_name(task: str) -> str:
    return f"gan_compression_{task}.png"


def save_samples(task: str, runs: list[Run], measurer, out: Path, n: int = 12) -> str | None:
    """The grid of the teacher and the students of the lowest seed among ``runs`` (done runs
    of ``task``, teacher among them); None when written, else why not."""
    if not any(r.row == "teacher" for r in runs):
        return "no teacher yet"
    seeds = sorted({r.seed for r in runs if r.row != "teacher"}) or [None]
    order = row_order()
    chosen = sorted((r for r in runs if r.row == "teacher" or r.seed == seeds[0]),
                    key=lambda r: order.index(r.row) if r.row in order else len(order))
    data = measurer.task(task)
    rows = [("input", data["inputs"][:n])]
    if task == "pix2pix":
        rows.append(("target", data["targets"][:n]))
    rows += [(r.row, measurer.outputs(task, r.folder / r.product)[2][:n]) for r in chosen]
    return write_grid(rows, out / grid_name(task), f"{data['task']}, students of seed {seeds[0]}")


def write_grid(rows: list[tuple[str, object]], path: Path, title: str) -> str | None:
    """Labelled rows of [-1, 1] images (matplotlib), else an unlabelled grid (torchvision)
    whose row order the report states; None when written."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = [(label, ((images.clamp(-1, 1) + 1) / 2).numpy()) for label, images in rows]
    why = image_rows(arrays, path, title)
    if why is None:
        return None
    from torchvision.utils import save_image

    n = len(rows[0][1])
    save_image(torch.cat([images.clamp(-1, 1)[:n] for _, images in rows]).add(1).div(2), path,
               nrow=n, padding=1, pad_value=1.0)
    return None

"""Forgetting: the student's agreement with the teacher on a fixed bank of early synthetic
samples (history's ``early_bank_acc``), DFAD against MAD: a section of results.md and
forgetting.png."""
from __future__ import annotations

from pathlib import Path

from benchmarks.data_free.variants import row_key
from benchmarks.plots import pyplot, save_figure

FORGETTING_VARIANTS = ("dfad", "mad")  # compared on the same budget


def forgetting_series(rows: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """(iteration, early_bank_acc) per run of :data:`FORGETTING_VARIANTS` that has them."""
    by_name = {row_key(r): r for r in rows if "error" not in r}
    series = {}
    for name in FORGETTING_VARIANTS:
        points = [(h["iteration"], h["early_bank_acc"]) for h in
                  by_name.get(name, {}).get("history", [])
                  if h.get("early_bank_acc") is not None and h.get("iteration") is not None]
        if points:
            series[name] = points
    return series


def write_forgetting_plot(series: dict[str, list[tuple[int, float]]], path: Path) -> str | None:
    """Plot early-bank agreement over iterations; None if written, else why not."""
    plt, why_not = pyplot()
    if plt is None:
        return why_not
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, points in series.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    ax.set_xlabel("iteration")
    ax.set_ylabel("agreement with the teacher on the early bank (%)")
    ax.set_title("Forgetting: early synthetic samples")
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(plt, fig, path)
    return None


def forgetting_lines(rows: list[dict], out: Path, plot: bool = True) -> list[str]:
    """The forgetting section: a line per run and, with ``plot``, forgetting.png (when
    matplotlib is there)."""
    present = {row_key(r) for r in rows if "error" not in r}
    if not present & set(FORGETTING_VARIANTS):
        return []
    series = forgetting_series(rows)
    lines = ["", "## Forgetting", "",
             "Student agreement with the teacher on a fixed bank of synthetic samples "
             "captured at the first evaluation (history's `early_bank_acc`; lower over "
             f"time means more forgetting), {' and '.join(FORGETTING_VARIANTS)} on their "
             "configs' budgets."]
    path = out / "forgetting.png"
    if series and plot:
        why_not = write_forgetting_plot(series, path)
        if why_not:
            print(f"note: no {path}: {why_not}")
            lines += ["", f"No plot: {why_not}."]
        else:
            lines += ["", f"Plot: [{path.name}]({path.name})."]
    for name in FORGETTING_VARIANTS:
        if name not in present:
            lines += ["", f"{name}: no run in these results."]
        elif name not in series:
            lines += ["", f"{name}: its history has no early_bank_acc."]
        else:
            values = [v for _, v in series[name]]
            points = ", ".join(f"{v:.1f}% at {it}" for it, v in series[name])
            lines += ["", f"{name} early-bank agreement by iteration: {points}; final "
                      f"{values[-1]:.1f}%, min {min(values):.1f}%."]
    return lines

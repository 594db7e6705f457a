"""Memory flatness: a cheap DAFL run with a full replay buffer, its RSS early and late."""
from __future__ import annotations

from pathlib import Path

from benchmarks.data_free.runs import run_variant
from benchmarks.data_free.variants import BenchmarkError, Variant, row_key

# The memory-flatness run: DAFL at cheap settings with a replay buffer that fills early.
MEMORY_OVERRIDES = ("replay.capacity=10000", "replay.policy=reservoir",
                    "train.batch_size=32", "generator.ngf=4", "student.steps=1")
MEMORY_TOLERANCE_MB, MEMORY_TOLERANCE_FRACTION = 20.0, 0.05  # "flat": growth within both


def memory_variant(iters: int = 10000, early: int = 1000) -> Variant:
    """The memory run: DAFL with a replay buffer full long before ``early``."""
    return Variant("memory-dafl", "dafl", (*MEMORY_OVERRIDES, f"train.iters={iters}",
                                           f"train.eval_every={early}"))


def memory_check(iters: int = 10000, early: int = 1000, passthrough: list[str] = (),
                 out: Path | None = None, echo: bool = True) -> dict:
    """Run :func:`memory_variant` and read its RSS at ``early`` and ``iters``."""
    return memory_from_row(run_variant(memory_variant(iters, early), passthrough=passthrough,
                                       out=out, echo=echo), early, iters)


def memory_from_row(row: dict, early: int, late: int) -> dict:
    """RSS at iterations ``early`` and ``late`` from a row's history, and their difference;
    a clear error when the history does not record ``rss_mb`` there."""
    rss = {h.get("iteration"): h.get("rss_mb") for h in row.get("history", [])}
    missing = [it for it in (early, late) if rss.get(it) is None]
    if missing:
        raise BenchmarkError(
            f"the memory run's metrics.json history has no rss_mb at iteration(s) "
            f"{', '.join(map(str, missing))} (evaluations at: "
            f"{', '.join(str(i) for i in rss) or 'none'}): the training loop must record "
            "the process's current RSS as history[i]['rss_mb'] at each evaluation")
    growth = rss[late] - rss[early]
    return {"variant": row_key(row), "overrides": row.get("overrides", []),
            "early_iter": early, "late_iter": late,
            "rss_early_mb": rss[early], "rss_late_mb": rss[late], "growth_mb": growth,
            "flat": growth <= max(MEMORY_TOLERANCE_MB, MEMORY_TOLERANCE_FRACTION * rss[early]),
            "peak_rss_mb": row.get("peak_rss_mb"), "seconds": row.get("seconds"),
            "iters_per_s": row.get("iters_per_s"),
            "rss_history": [[it, v] for it, v in rss.items() if v is not None]}

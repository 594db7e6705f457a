"""Each pair's target lines (after the time budget's, which every pair shares): from the rows
by method (sorted by seed) and their summaries over seeds (``report.method_summary``)."""
from __future__ import annotations

from benchmarks.pairs.report import cpu_scale, points, time_to_reach

SPEED_FACTOR = 5  # Fast-DFKD / NAYER: DeepInversion's accuracy in a fifth of its time
SPEED_METHODS = ("fast_dfkd", "nayer")
BEST_RATIO = 0.92  # the BN pair's best method, × its teacher
QUANT_POINTS = 1.0  # issue 20: the 8-bit data-free student within 1 point of the float one
LENET5_BEST_RATIO = 0.90  # issue 16: the best method, × the teacher (mean over seeds)
LENET5_EVERY_RATIO = 0.85  # issue 16: every method
STABLE_POINTS = 1.0  # issue 16: a run's final accuracy within 1 point of its best evaluation


def bn_targets(by_method: dict[str, list[dict]], summaries: dict[str, dict]) -> list[str]:
    """Speed against DeepInversion, the best method ≥ 0.92×, dfq's quantized students."""
    return [*speed_lines(by_method, summaries), best_line(summaries, BEST_RATIO),
            *quantization_lines(summaries)]


def lenet5_targets(by_method: dict[str, list[dict]], summaries: dict[str, dict]) -> list[str]:
    """Issue 16: the best method ≥ 0.90×, every one ≥ 0.85×, MAD ≥ DFAD, stable runs."""
    ratios = {m: s["ratio"] for m, s in summaries.items()}
    below = [m for m in ratios if ratios[m] < LENET5_EVERY_RATIO]
    lowest = min(ratios, key=ratios.get)
    every = (f"MISSED (below: {', '.join(f'{m} {ratios[m]:.3f}×' for m in below)})" if below
             else f"met (lowest: {lowest}, {ratios[lowest]:.3f}×)")
    return [best_line(summaries, LENET5_BEST_RATIO),
            f"- every method ≥ {LENET5_EVERY_RATIO:.2f}× the teacher: {every}",
            mad_line(summaries), stability_line(by_method)]


def best_line(summaries: dict[str, dict], target: float) -> str:
    best = max(summaries, key=lambda m: summaries[m]["ratio"])
    ratio = summaries[best]["ratio"]
    return (f"- best method ≥ {target:.2f}× the teacher: "
            f"{'met' if ratio >= target else 'MISSED'} ({best}, {ratio:.3f}×)")


def mad_line(summaries: dict[str, dict]) -> str:
    """MAD's mean final accuracy against DFAD's (their rounds and CPU minutes shown)."""
    head = "- MAD ≥ DFAD (mean final accuracy, same budget)"
    missing = [name for name in ("mad", "dfad") if name not in summaries]
    if missing:
        return f"{head}: no {' or '.join(m.upper() for m in missing)} rows yet"
    mad, dfad = summaries["mad"], summaries["dfad"]
    gap = mad["student_acc"] - dfad["student_acc"]
    budget = ("" if mad["iters"] == dfad["iters"] else "; not the same rounds")
    return (f"{head}: {'met' if gap >= 0 else 'MISSED'} (mad {mad['student_acc']:.2f} ± "
            f"{mad['student_acc_sd']:.2f}, dfad {dfad['student_acc']:.2f} ± "
            f"{dfad['student_acc_sd']:.2f}: {points(gap)} DFAD; {mad['iters']} vs "
            f"{dfad['iters']} rounds, {mad['cpu_seconds'] / 60:.1f} vs "
            f"{dfad['cpu_seconds'] / 60:.1f} CPU min{budget})")


def stability_line(by_method: dict[str, list[dict]]) -> str:
    """Each run's final accuracy within STABLE_POINTS of its best evaluation."""
    rows = [r for rows in by_method.values() for r in rows]
    gaps = {(r["method"], r["seed"]): round(r["best_acc"] - r["student_acc"], 2) for r in rows}
    misses = [r for r in rows if gaps[r["method"], r["seed"]] > STABLE_POINTS]
    head = (f"- stability (each run's final accuracy within {STABLE_POINTS:g} point of its best "
            "evaluation): ")
    if misses:
        return head + "MISSED (" + "; ".join(
            f"{r['method']}/{r['seed']}: final {r['student_acc']:.2f}, best {r['best_acc']:.2f}"
            for r in misses) + ")"
    worst = max(gaps, key=gaps.get)
    return head + f"met (largest gap: {worst[0]}/{worst[1]}, {gaps[worst]:.2f} points)"


def speed_lines(by_method: dict[str, list[dict]], summaries: dict[str, dict]) -> list[str]:
    """Fast-DFKD / NAYER against DeepInversion's final accuracy and time."""
    if "deepinversion" not in summaries:
        return ["- speed: no DeepInversion rows yet"]
    ref = summaries["deepinversion"]
    goal, limit = ref["student_acc"], ref["cpu_seconds"] / SPEED_FACTOR
    lines = [f"- speed (CPU minutes: each evaluation's time scaled by its run's CPU/wall "
             f"ratio): DeepInversion ends at {goal:.2f}% (mean of seeds) after "
             f"{ref['cpu_seconds'] / 60:.1f} CPU min; the target is that accuracy within "
             f"{limit / 60:.1f} CPU min (1/{SPEED_FACTOR})."]
    for method in SPEED_METHODS:
        if method not in summaries:
            continue
        s = summaries[method]
        reached = [time_to_reach(r["history"], goal, cpu_scale(r)) for r in by_method[method]]
        times = ", ".join("never" if t is None else f"{t / 60:.1f}" for t in reached)
        within = all(t is not None and t <= limit for t in reached)
        final_ok = s["student_acc"] >= goal and s["cpu_seconds"] <= limit
        how = ("by its final accuracy" if final_ok else "along the run" if within
               else "not within the time")
        lines.append(
            f"  - {method}: first evaluation at or above it per seed at {times} CPU min; final "
            f"{s['student_acc']:.2f}% after {s['cpu_seconds'] / 60:.1f} CPU min: "
            f"{'met' if within or final_ok else 'MISSED'} ({how})")
    return lines


def quantization_lines(summaries: dict[str, dict]) -> list[str]:
    """dfq's 8-bit student against its float one (issue 20), and the 4-bit one reported."""
    if "dfq_float" not in summaries or "dfq_8bit" not in summaries:
        return []
    ref, q8 = summaries["dfq_float"], summaries["dfq_8bit"]
    gap = ref["student_acc"] - q8["student_acc"]
    lines = [f"- dfq 8-bit student within {QUANT_POINTS:g} point of the float one: "
             f"{'met' if gap <= QUANT_POINTS else 'MISSED'} (8-bit {q8['student_acc']:.2f} ± "
             f"{q8['student_acc_sd']:.2f}, float {ref['student_acc']:.2f} ± "
             f"{ref['student_acc_sd']:.2f}: {points(-gap)} the float one)"]
    if "dfq_4bit" in summaries:
        q4 = summaries["dfq_4bit"]
        lines.append(f"  - dfq 4-bit (reported): {q4['student_acc']:.2f} ± "
                     f"{q4['student_acc_sd']:.2f} "
                     f"({points(q4['student_acc'] - ref['student_acc'])} the float one)")
    return lines

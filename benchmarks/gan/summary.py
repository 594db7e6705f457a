"""Seed statistics of the GAN rows and the issue's target line."""
from __future__ import annotations

import statistics

#: figures averaged over seeds (mean and sample standard deviation)
SPREAD = ("fid", "psnr_teacher", "ssim_teacher", "psnr_gt", "ssim_gt", "cpu_seconds",
          "train_seconds", "iters")
#: figures of the architecture, the same for every seed
FIXED = ("ngf", "netG", "arch", "params", "macs_task", "macs_256", "config_iters", "note")
MAC_FRACTION = 16  # issue 19: the student at <= 1/16 of the teacher's MACs
NOT_METHODS = ("teacher", "scratch")


def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1; 0 for one value)."""
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(runs: list[dict], order: list[str]) -> dict[str, dict]:
    """row -> its seeds' mean ± std (``<key>`` and ``<key>_sd``) and fixed figures, rows in
    ``order`` first."""
    by_row: dict[str, list[dict]] = {}
    for run in sorted(runs, key=lambda r: r["seed"]):
        by_row.setdefault(run["row"], []).append(run)
    names = [r for r in order if r in by_row] + [r for r in by_row if r not in order]
    out = {}
    for name in names:
        rows = by_row[name]
        summary = {"seeds": [r["seed"] for r in rows]}
        summary.update({k: rows[0][k] for k in FIXED if k in rows[0]})
        for key in SPREAD:
            values = [r[key] for r in rows if r.get(key) is not None]
            if len(values) == len(rows):
                summary[key], summary[key + "_sd"] = mean_sd(values)
        out[name] = summary
    return out


def pm(summary: dict, key: str, spec: str) -> str:
    """``mean ± std`` (the ± part only with more than one seed), or empty."""
    if key not in summary:
        return ""
    text = format(summary[key], spec)
    if len(summary["seeds"]) > 1:
        text += " ± " + format(summary[key + "_sd"], spec)
    return text


def target(rows: dict[str, dict]) -> dict:
    """Issue 19's target on one task: the best method (lowest mean FID) among those whose
    student has at most 1/16 of the teacher's MACs, met when its mean FID is at most the
    teacher's. Returns ``{"met", "text", ...}``."""
    teacher = rows.get("teacher")
    methods = {k: v for k, v in rows.items() if k not in NOT_METHODS and "fid" in v
               and "macs_task" in v}
    if not teacher or "fid" not in teacher or not methods:
        return {"met": False, "text": "no teacher and method rows yet"}
    limit = teacher["macs_task"] / MAC_FRACTION
    small = {k: v for k, v in methods.items() if v["macs_task"] <= limit}
    fraction = lambda v: teacher["macs_task"] / v["macs_task"]  # noqa: E731
    t_fid = pm(teacher, "fid", ".2f")
    if not small:
        least = min(methods, key=lambda k: methods[k]["macs_task"])
        return {"met": False, "best": None, "text": (
            f"MISSED: no method's student is at ≤ 1/{MAC_FRACTION} of the teacher's MACs "
            f"({teacher['macs_task'] / 1e6:.1f} M; the smallest, {least}, has "
            f"{methods[least]['macs_task'] / 1e6:.1f} M = 1/{fraction(methods[least]):.1f})"
            f"{best_any(methods, t_fid)}")}
    best = min(small, key=lambda k: small[k]["fid"])
    b = small[best]
    met = b["fid"] <= teacher["fid"]
    return {"met": met, "best": best, "fid": b["fid"], "teacher_fid": teacher["fid"],
            "macs_fraction": 1 / fraction(b), "text": (
                f"{'met' if met else 'MISSED'}: best method {best}, "
                f"{b['macs_task'] / 1e6:.1f} M MACs = 1/{fraction(b):.1f} of the teacher's, FID "
                f"{pm(b, 'fid', '.2f')} {'≤' if met else '>'} the teacher's {t_fid} "
                f"(means over seeds {', '.join(map(str, b['seeds']))})")}


def best_any(methods: dict[str, dict], teacher_fid: str) -> str:
    best = min(methods, key=lambda k: methods[k]["fid"])
    return (f"; best FID at any size: {best}, {pm(methods[best], 'fid', '.2f')} (teacher "
            f"{teacher_fid})")


def overall(targets: dict[str, dict]) -> str:
    """The target across tasks: met when met on at least one."""
    met = [task for task, t in targets.items() if t["met"]]
    return (f"Target (issue 19: the best method's student at ≤ 1/{MAC_FRACTION} of the "
            f"teacher's MACs with FID ≤ the teacher's on at least one task): "
            + (f"**met** ({', '.join(met)})" if met else "**MISSED** on every task measured"))

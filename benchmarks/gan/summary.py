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


#: issue 18's targets for the distilled student (the first method's row) of each task
COMPRESSION_MACS = 8  # the student at <= 1/8 of the teacher's MACs
COMPRESSION_SPEEDUP = 4.0  # >= 4x lower CPU latency at the task's size
COMPRESSION_FID = 1.1  # FID <= 1.1x the teacher's


def _versus(student: dict, scratch: dict, key: str, spec: str, lower_is_better: bool) -> tuple:
    """(student wins on ``key``, the words): means compared, and whether their difference
    is inside the larger seed std (then it is no gain the seeds can tell apart)."""
    a, b = student[key], scratch[key]
    wins = a < b if lower_is_better else a > b
    spread = max(student.get(key + "_sd", 0.0), scratch.get(key + "_sd", 0.0))
    close = abs(a - b) <= spread
    return wins, (f"{pm(student, key, spec)} vs scratch {pm(scratch, key, spec)}"
                  + (" (within the seed spread)" if close and len(student["seeds"]) > 1 else ""))


def compression_target(rows: dict[str, dict], method: str) -> list[str]:
    """Issue 18's target lines for ``method``'s student against the teacher and the scratch
    row: better than scratch on FID (and PSNR/SSIM to the ground truth where paired), at
    <= 1/8 of the MACs, >= 4x lower latency at the task's size, FID <= 1.1x the teacher's."""
    teacher, student, scratch = rows.get("teacher"), rows.get(method), rows.get("scratch")
    if not teacher or not student or "fid" not in student:
        return [f"issue 18 ({method}): no teacher and {method} rows yet"]
    lines = []
    if scratch and "fid" in scratch:
        checks = [_versus(student, scratch, "fid", ".2f", True)]
        names = ["FID"]
        for key, name, spec in (("psnr_gt", "PSNR", ".2f"), ("ssim_gt", "SSIM", ".3f")):
            if key in student and key in scratch:
                checks.append(_versus(student, scratch, key, spec, False))
                names.append(name)
        met = all(w for w, _ in checks)
        cpu = (f"; CPU min {pm(with_minutes(student), 'cpu_min', '.1f')} vs scratch "
               f"{pm(with_minutes(scratch), 'cpu_min', '.1f')}" if "cpu_seconds" in student
               and "cpu_seconds" in scratch else "")
        lines.append(f"distilled beats scratch at the same CPU time: {'met' if met else 'MISSED'}"
                     f" ({'; '.join(f'{n} {t}' for n, (_, t) in zip(names, checks))}{cpu})")
    else:
        lines.append("distilled beats scratch: no scratch row yet")
    fraction = student["macs_task"] / teacher["macs_task"]
    lines.append(f"MACs: 1/{1 / fraction:.1f} of the teacher's (target ≤ 1/{COMPRESSION_MACS}): "
                 f"{'met' if fraction <= 1 / COMPRESSION_MACS else 'MISSED'}")
    if student.get("latency_ms_task") and teacher.get("latency_ms_task"):
        speedup = teacher["latency_ms_task"] / student["latency_ms_task"]
        lines.append(f"CPU latency: {speedup:.2f}x lower than the teacher's at the task's size "
                     f"(target ≥ {COMPRESSION_SPEEDUP:g}x): "
                     f"{'met' if speedup >= COMPRESSION_SPEEDUP else 'MISSED'}")
    ratio = student["fid"] / teacher["fid"]
    lines.append(f"FID: {ratio:.2f}x the teacher's ({pm(student, 'fid', '.2f')} vs "
                 f"{pm(teacher, 'fid', '.2f')}; target ≤ {COMPRESSION_FID:g}x): "
                 f"{'met' if ratio <= COMPRESSION_FID else 'MISSED'}")
    return [f"issue 18 ({method}): " + line for line in lines]


def with_minutes(summary: dict) -> dict:
    return {**summary, "cpu_min": summary["cpu_seconds"] / 60,
            "cpu_min_sd": summary.get("cpu_seconds_sd", 0.0) / 60}

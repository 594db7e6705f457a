"""benchmarks/bn_pair (tools/benchmark_bn_pair.py): rows, seed statistics, the targets' verdicts
from hand-made results, and resuming without repeating a measured run."""
import json

import pytest

from benchmarks.bn_pair import cli, report, runs


def history(*points):
    return [{"iteration": 10 * (i + 1), "seconds": s, "acc": a} for i, (s, a) in enumerate(points)]


def row(method, seed, acc, seconds, points, teacher=90.0, cpu=None):
    return {"method": method, "seed": seed, "teacher_acc": teacher, "student_acc": acc,
            "last_mean": acc, "best_acc": acc, "ratio": acc / teacher, "iters": 10,
            "seconds": seconds, "cpu_seconds": cpu if cpu is not None else seconds,
            "parts": 1, "history": history(*points)}


def test_summarize_keeps_final_last_three_and_best():
    metrics = {"method": "nayer", "teacher_acc": 90.0, "student_acc": 80.0,
               "best_student_acc": 84.0, "iters": 40, "seconds": 100.0,
               "history": [{"iteration": 10, "seconds": 25.0, "acc": 84.0},
                           {"iteration": 20, "seconds": 50.0, "acc": 70.0},
                           {"iteration": 30, "seconds": 75.0, "acc": 78.0, "early_bank_acc": 1},
                           {"iteration": 40, "seconds": 100.0, "acc": 80.0}]}
    r = runs.summarize(metrics, seed=2, spent={"cpu_seconds": 123.44, "parts": 2})
    assert r["last_mean"] == pytest.approx((70 + 78 + 80) / 3)
    assert (r["student_acc"], r["best_acc"], r["seed"]) == (80.0, 84.0, 2)
    assert r["ratio"] == pytest.approx(80 / 90)
    assert (r["cpu_seconds"], r["parts"]) == (123.4, 2)
    assert r["history"][2] == {"iteration": 30, "seconds": 75.0, "acc": 78.0}


def test_method_summary_is_mean_and_sample_std():
    s = report.method_summary([row("cmi", 0, 70.0, 600, [(600, 70)]),
                                row("cmi", 1, 74.0, 600, [(600, 74)]),
                                row("cmi", 2, 72.0, 600, [(600, 72)])])
    assert s["student_acc"] == pytest.approx(72.0)
    assert s["student_acc_sd"] == pytest.approx(2.0)  # sample std of 70, 74, 72
    assert s["seeds"] == [0, 1, 2]


def test_time_to_reach_is_the_first_evaluation_at_or_above():
    h = history((30, 60.0), (60, 75.0), (90, 74.0), (120, 80.0))
    assert report.time_to_reach(h, 75.0) == 60
    assert report.time_to_reach(h, 79.0) == 120
    assert report.time_to_reach(h, 81.0) is None
    assert report.time_to_reach(h, 75.0, scale=0.5) == 30
    assert report.cpu_scale({"cpu_seconds": 90.0, "seconds": 120.0}) == 0.75


def test_teacher_paths_per_seed():
    assert runs.teacher_path(0).name == "lenet5_bn_fashion_mnist.pt"
    assert runs.teacher_path(2).name == "lenet5_bn_fashion_mnist_seed2.pt"


def test_report_verdicts(tmp_path):
    rows = [row("deepinversion", s, 70.0, 900, [(450, 60), (900, 70)], cpu=910) for s in (0, 1)]
    # reaches 70% at 150 s (< 900 / 5 = 180 s) in both seeds
    rows += [row("fast_dfkd", s, 71.0, 170, [(150, 70.5), (170, 71.0)]) for s in (0, 1)]
    # reaches it only at 600 s in one seed: missed
    rows += [row("nayer", 0, 84.0, 800, [(100, 72.0), (800, 84.0)]),
             row("nayer", 1, 82.0, 800, [(600, 71.0), (800, 82.0)])]
    report.write_report({"rows": rows, "machine": "m", "date": "d"}, tmp_path, plot=False)
    md = (tmp_path / "bn_pair.md").read_text()
    assert "| fast_dfkd | 2 | 90.00 | 71.00 ± 0.00 |" in md
    assert "- each run within 15 CPU minutes: MISSED (longest: deepinversion, 15.2 CPU min)" in md
    assert "  - fast_dfkd: first evaluation at or above it per seed at 2.5, 2.5 CPU min; final " \
           "71.00% after 2.8 CPU min: met" in md
    assert "  - nayer: first evaluation at or above it per seed at 1.7, 10.0 CPU min" in md
    assert "MISSED (not within the time)" in md
    assert "- best method ≥ 0.92× the teacher: met (nayer, 0.922×)" in md
    assert json.loads((tmp_path / "bn_pair.json").read_text())["rows"] == rows


def test_a_measured_run_is_not_repeated(tmp_path, monkeypatch):
    measured = row("nayer", 0, 80.0, 100, [(100, 80.0)])
    (tmp_path / "bn_pair.json").write_text(json.dumps({"rows": [measured]}))
    started = []
    monkeypatch.setattr(cli, "run_one", lambda *a, **k: started.append(a) or
                        row(a[0], a[1], 75.0, 100, [(100, 75.0)]))
    monkeypatch.setattr(cli, "ensure_teacher", lambda *a: None)
    assert cli.main(["--methods", "nayer", "cmi", "--seeds", "0", "--out", str(tmp_path),
                         "--runs", str(tmp_path / "runs")]) == 0
    assert [a[:2] for a in started] == [("cmi", 0)]
    rows = json.loads((tmp_path / "bn_pair.json").read_text())["rows"]
    assert sorted((r["method"], r["student_acc"]) for r in rows) == [("cmi", 75.0),
                                                                    ("nayer", 80.0)]

"""benchmarks/pairs (tools/benchmark_pair.py): rows, seed statistics, both pairs' targets'
verdicts from hand-made results, their runs' commands, and resuming without repeating a
measured run."""
import json

import pytest

from benchmarks import ROOT
from benchmarks import report as summary_page
from benchmarks.pairs import cli, report, runs, targets
from benchmarks.pairs.pair import BN_PAIR, LENET5_PAIR, PAIRS


def history(*points):
    return [{"iteration": 10 * (i + 1), "seconds": s, "acc": a} for i, (s, a) in enumerate(points)]


def row(method, seed, acc, seconds, points, teacher=90.0, cpu=None, best=None, iters=10):
    return {"method": method, "seed": seed, "teacher_acc": teacher, "student_acc": acc,
            "last_mean": acc, "best_acc": acc if best is None else best, "ratio": acc / teacher,
            "iters": iters, "seconds": seconds, "cpu_seconds": cpu if cpu is not None else seconds,
            "parts": 1, "history": history(*points)}


def metrics(*accs):
    return {"method": "dfad", "teacher_acc": 90.0, "student_acc": accs[-1],
            "best_student_acc": max(accs), "iters": 10 * len(accs), "seconds": 100.0,
            "history": [{"iteration": 10 * (i + 1), "seconds": 10.0 * (i + 1), "acc": a}
                        for i, a in enumerate(accs)]}


def test_summarize_keeps_final_last_three_and_best():
    metrics = {"method": "nayer", "teacher_acc": 90.0, "student_acc": 80.0,
               "best_student_acc": 84.0, "iters": 40, "seconds": 100.0,
               "history": [{"iteration": 10, "seconds": 25.0, "acc": 84.0},
                           {"iteration": 20, "seconds": 50.0, "acc": 70.0},
                           {"iteration": 30, "seconds": 75.0, "acc": 78.0, "early_bank_acc": 1},
                           {"iteration": 40, "seconds": 100.0, "acc": 80.0}]}
    r = runs.summarize(metrics, seed=2, spent={"cpu_seconds": 123.44, "parts": 2}, last=3)
    assert r["last_mean"] == pytest.approx((70 + 78 + 80) / 3)
    assert (r["student_acc"], r["best_acc"], r["seed"]) == (80.0, 84.0, 2)
    assert r["ratio"] == pytest.approx(80 / 90)
    assert (r["cpu_seconds"], r["parts"]) == (123.4, 2)
    assert r["history"][2] == {"iteration": 30, "seconds": 75.0, "acc": 78.0}


def test_the_last_mean_is_the_pairs_count():
    assert (BN_PAIR.last, LENET5_PAIR.last) == (3, 5)
    spent = {"cpu_seconds": 60.0, "parts": 1}
    m = metrics(60.0, 70.0, 72.0, 74.0, 76.0, 78.0, 80.0)
    assert runs.summarize(m, 0, spent, LENET5_PAIR.last)["last_mean"] == 76.0  # 72 .. 80
    assert runs.summarize(m, 0, spent, BN_PAIR.last)["last_mean"] == 78.0  # 76, 78, 80


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
    assert runs.teacher_path(BN_PAIR, 0) == ROOT / "checkpoints" / "lenet5_bn_fashion_mnist.pt"
    assert runs.teacher_path(BN_PAIR, 2).name == "lenet5_bn_fashion_mnist_seed2.pt"
    assert runs.teacher_path(LENET5_PAIR, 0) == ROOT / "checkpoints" / "lenet5_fashion_mnist.pt"
    assert runs.teacher_path(LENET5_PAIR, 1).name == "lenet5_fashion_mnist_seed1.pt"
    assert runs.teacher_path(LENET5_PAIR, 2).name == "lenet5_fashion_mnist_seed2.pt"
    assert sorted(PAIRS) == ["lenet5", "lenet5_bn"]


def test_a_missing_lenet5_teacher_is_trained_for_10_epochs_with_its_seed(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "ROOT", tmp_path)
    started = []
    monkeypatch.setattr(runs.subprocess, "run", lambda cmd, check: started.append(cmd))
    path = runs.ensure_teacher(LENET5_PAIR, 1, None, tmp_path / "runs")
    assert path == tmp_path / "checkpoints" / "lenet5_fashion_mnist_seed1.pt"
    (cmd,) = started
    assert cmd[1].endswith("tools/train_teacher.py")
    assert cmd[2:] == ["--model", "lenet5", "--dataset", "fashion_mnist", "--epochs", "10",
                       "--seed", "1", "--out", str(path),
                       "--run-dir", str(tmp_path / "runs" / "teacher_seed1")]


def test_a_lenet5_run_names_its_teacher_thread_and_config(tmp_path):
    assert LENET5_PAIR.methods == ("dafl", "dfad", "zskt", "cgdd", "mad", "dual_generator")
    for method in LENET5_PAIR.methods:
        assert (ROOT / "dfkd" / "discriminator_distillation" / "methods" / f"{method}.py").exists()
        cmd = runs.run_command(LENET5_PAIR, method, 2, tmp_path / f"{method}-seed2", None)
        sets = [cmd[i + 1] for i, flag in enumerate(cmd) if flag == "--set"]
        assert sets == ["teacher=lenet5", "train.threads=1"]
        assert cmd[cmd.index("--teacher-ckpt") + 1] == str(
            ROOT / "checkpoints" / "lenet5_fashion_mnist_seed2.pt")
        config = ROOT / "configs" / method / "fashion_mnist.yaml"
        assert cmd[cmd.index("--config") + 1] == str(config) and config.exists()
        assert (cmd[cmd.index("--method") + 1], cmd[cmd.index("--seed") + 1]) == (method, "2")
        assert cmd[cmd.index("--out") + 1] == str(tmp_path / f"{method}-seed2")
        assert "--resume" not in cmd


def test_report_verdicts(tmp_path):
    rows = [row("deepinversion", s, 70.0, 900, [(450, 60), (900, 70)], cpu=910) for s in (0, 1)]
    # reaches 70% at 150 s (< 900 / 5 = 180 s) in both seeds
    rows += [row("fast_dfkd", s, 71.0, 170, [(150, 70.5), (170, 71.0)]) for s in (0, 1)]
    # reaches it only at 600 s in one seed: missed
    rows += [row("nayer", 0, 84.0, 800, [(100, 72.0), (800, 84.0)]),
             row("nayer", 1, 82.0, 800, [(600, 71.0), (800, 82.0)])]
    report.write_report({"rows": rows, "machine": "m", "date": "d"}, tmp_path, BN_PAIR,
                        plot=False)
    md = (tmp_path / "bn_pair.md").read_text()
    assert "| fast_dfkd | 2 | 90.00 | 71.00 ± 0.00 |" in md
    assert "| method | seeds | teacher | final | last 3 | × teacher |" in md
    assert "- each run within 15 CPU minutes: MISSED (longest: deepinversion, 15.2 CPU min)" in md
    assert "  - fast_dfkd: first evaluation at or above it per seed at 2.5, 2.5 CPU min; final " \
           "71.00% after 2.8 CPU min: met" in md
    assert "  - nayer: first evaluation at or above it per seed at 1.7, 10.0 CPU min" in md
    assert "MISSED (not within the time)" in md
    assert "- best method ≥ 0.92× the teacher: met (nayer, 0.922×)" in md
    assert json.loads((tmp_path / "bn_pair.json").read_text())["rows"] == rows
    assert not (tmp_path / "lenet5_pair.md").exists()


def lenet5_targets(rows):
    """The lenet5 pair's target lines of ``rows`` (after 'Targets:')."""
    lines = report.table_and_targets({"rows": rows}, LENET5_PAIR)
    return lines[lines.index("Targets:") + 2:]


def test_lenet5_targets_met():
    rows = []
    for seed in (0, 1):
        rows += [row("dafl", seed, 78.0, 600, [(600, 78.0)], best=78.5),
                 row("dfad", seed, 77.0, 600, [(600, 77.0)], best=77.8 if seed else 77.5),
                 row("zskt", seed, 77.0, 600, [(600, 77.0)], best=77.0),
                 row("cgdd", seed, 76.6, 600, [(600, 76.6)], best=77.0),
                 row("mad", seed, 77.5, 600, [(600, 77.5)], cpu=880 if seed else 600),
                 row("dual_generator", seed, 82.0 if seed else 81.5, 600, [(600, 82.0)])]
    assert lenet5_targets(rows) == [
        "- each run within 15 CPU minutes: met (longest: mad, 14.7 CPU min)",
        "- best method ≥ 0.90× the teacher: met (dual_generator, 0.908×)",
        "- every method ≥ 0.85× the teacher: met (lowest: cgdd, 0.851×)",
        "- MAD ≥ DFAD (mean final accuracy, same budget): met (mad 77.50 ± 0.00, dfad 77.00 ± "
        "0.00: 0.50 points above DFAD; 10 vs 10 rounds, 12.3 vs 10.0 CPU min)",
        "- stability (each run's final accuracy within 1 point of its best evaluation): met "
        "(largest gap: dfad/1, 0.80 points)"]


def test_lenet5_targets_missed():
    rows = []
    for seed in (0, 1):
        rows += [row("dafl", seed, 78.0, 600, [(600, 78.0)], best=79.5 if seed else 79.0),
                 row("dfad", seed, 77.0, 600, [(600, 77.0)]),
                 row("zskt", seed, 70.0, 600, [(600, 70.0)]),
                 row("cgdd", seed, 76.0, 600, [(600, 76.0)]),
                 row("mad", seed, 74.0, 600, [(600, 74.0)], iters=20),
                 row("dual_generator", seed, 80.0, 600, [(600, 80.0)], cpu=960 if seed else 600)]
    assert lenet5_targets(rows) == [
        "- each run within 15 CPU minutes: MISSED (longest: dual_generator, 16.0 CPU min)",
        "- best method ≥ 0.90× the teacher: MISSED (dual_generator, 0.889×)",
        "- every method ≥ 0.85× the teacher: MISSED (below: zskt 0.778×, cgdd 0.844×, mad "
        "0.822×)",
        "- MAD ≥ DFAD (mean final accuracy, same budget): MISSED (mad 74.00 ± 0.00, dfad 77.00 "
        "± 0.00: 3.00 points below DFAD; 20 vs 10 rounds, 10.0 vs 10.0 CPU min; not the same "
        "rounds)",
        "- stability (each run's final accuracy within 1 point of its best evaluation): MISSED "
        "(dafl/1: final 78.00, best 79.50)"]
    assert targets.mad_line({}) == ("- MAD ≥ DFAD (mean final accuracy, same budget): no MAD "
                                    "or DFAD rows yet")


def test_lenet5_page_reports_final_and_the_last_five(tmp_path):
    spent = {"cpu_seconds": 300.0, "parts": 1}
    rows = [runs.summarize(metrics(60.0, 70.0, 72.0, 74.0, 76.0, 78.0, 80.0), 0, spent, 5),
            runs.summarize(metrics(70.0, 74.0, 74.0, 74.0, 74.0, 74.0, 74.0), 1, spent, 5)]
    report.write_report({"rows": rows, "machine": "m", "date": "d"}, tmp_path, LENET5_PAIR,
                        plot=False)
    md = (tmp_path / "lenet5_pair.md").read_text()
    assert md.startswith("# Data-free methods on the embedded default pair\n\nFashion-MNIST, "
                         "lenet5 teacher -> lenet5_half student;")
    assert "Generated by `python tools/benchmark_pair.py --pair lenet5` on d." in md
    assert "last 5 = mean of its last five evaluations" in md
    assert "| method | seeds | teacher | final | last 5 | × teacher |" in md
    # final 80 / 74, last five 76 / 74, best 80 / 74
    assert "| dfad | 2 | 90.00 | 77.00 ± 4.24 | 75.00 ± 1.41 | 0.856 ± 0.047 | 77.00 | 70 |" in md
    assert json.loads((tmp_path / "lenet5_pair.json").read_text())["rows"] == rows


def test_the_summary_page_tolerates_a_missing_pair(tmp_path):
    bn = {"rows": [row("nayer", 0, 84.0, 800, [(800, 84.0)])]}
    (tmp_path / "bn_pair.json").write_text(json.dumps(bn))
    text = summary_page.write_report(tmp_path, plots=False).read_text()
    assert "## Data-free methods on the BatchNorm pair, 3 seeds (`make bench`, details: " \
           "bn_pair.md)" in text
    assert "embedded default pair" not in text
    (tmp_path / "lenet5_pair.json").write_text(json.dumps(
        {"rows": [row("dfad", 0, 77.0, 600, [(600, 77.0)])]}))
    text = summary_page.write_report(tmp_path, plots=False).read_text()
    assert text.index("the BatchNorm pair, 3 seeds") < text.index(
        "## Data-free methods on the embedded default pair, 3 seeds (`make bench`, details: "
        "lenet5_pair.md)")
    assert "- MAD ≥ DFAD (mean final accuracy, same budget): no MAD rows yet" in text


def test_a_measured_run_is_not_repeated(tmp_path, monkeypatch):
    measured = row("nayer", 0, 80.0, 100, [(100, 80.0)])
    (tmp_path / "bn_pair.json").write_text(json.dumps({"rows": [measured]}))
    started = []
    monkeypatch.setattr(cli, "run_one", lambda *a, **k: started.append(a) or
                        row(a[1], a[2], 75.0, 100, [(100, 75.0)]))
    monkeypatch.setattr(cli, "ensure_teacher", lambda *a: None)
    assert cli.main(["--pair", "lenet5_bn", "--methods", "nayer", "cmi", "--seeds", "0",
                     "--out", str(tmp_path), "--runs", str(tmp_path / "runs")]) == 0
    assert [a[:3] for a in started] == [(BN_PAIR, "cmi", 0)]
    rows = json.loads((tmp_path / "bn_pair.json").read_text())["rows"]
    assert sorted((r["method"], r["student_acc"]) for r in rows) == [("cmi", 75.0),
                                                                    ("nayer", 80.0)]


def test_the_lenet5_pair_runs_its_methods_into_its_own_files(tmp_path, monkeypatch):
    started, teachers = [], []
    monkeypatch.setattr(cli, "run_one", lambda *a, **k: started.append(a) or
                        row(a[1], a[2], 75.0, 100, [(100, 75.0)]))
    monkeypatch.setattr(cli, "ensure_teacher", lambda *a: teachers.append(a))
    assert cli.main(["--pair", "lenet5", "--seeds", "1", "--out", str(tmp_path)]) == 0
    assert sorted(a[1] for a in started) == sorted(LENET5_PAIR.methods)
    assert {(a[0], a[2], str(a[3])) for a in started} == {(LENET5_PAIR, 1, "runs/lenet5_pair")}
    assert teachers == [(LENET5_PAIR, 1, None, cli.Path("runs/lenet5_pair"))]
    assert (tmp_path / "lenet5_pair.md").exists() and not (tmp_path / "bn_pair.json").exists()


def test_points_reads_above_below_and_level():
    from benchmarks.pairs.report import points

    assert points(1.164) == "1.16 points above" and points(-14.42) == "14.42 points below"
    assert points(0.004) == "level with" and points(-0.0) == "level with"

"""tools/benchmark.py's report from a results dict (no training)."""
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_benchmark():
    spec = importlib.util.spec_from_file_location("benchmark", ROOT / "tools/benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_report_tables(tmp_path, monkeypatch):
    bench = load_benchmark()
    monkeypatch.setattr(bench, "OUT", tmp_path)
    run = {"method": "dafl", "teacher_acc": 90.0, "student_acc": 72.0, "best_student_acc": 73.5,
           "ratio": 0.8, "iters": 1000, "seconds": 300.0, "iters_per_s": 1000 / 300,
           "history": [{"iteration": 500, "seconds": 150.0, "acc": 70.0},
                       {"iteration": 1000, "seconds": 300.0, "acc": 72.0}],
           "config": {"train": {"eval_every": 500}}}
    overhead = {"method": "dfad", "shared_s_per_iter": 0.102, "manual_s_per_iter": 0.1,
                "ratio": 1.02, "block_ratio_quartiles": [0.95, 1.08], "blocks": 6, "iters_per_block": 10}
    bench.write_report({"machine": "test", "date": "2026-11-25", "methods": [run],
                        "overhead": overhead})
    md = (tmp_path / "results.md").read_text()
    assert "| dafl | 90.00 | 72.00 | 0.800 | 73.50 | 1000 | 5.0 min | 3.33 |" in md
    assert "70.0% at 2.5 min, 72.0% at 5.0 min" in md
    assert "102.0 ms vs 100.0 ms" in md and "blocks **1.020**" in md and "0.950-1.080" in md
    assert json.loads((tmp_path / "results.json").read_text())["methods"][0]["ratio"] == 0.8

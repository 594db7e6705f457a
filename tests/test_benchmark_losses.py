"""benchmarks/losses.py (tools/benchmark_losses.py): seed aggregation and the report, from
hand-made runs."""
import pytest

import benchmarks.losses


@pytest.fixture
def bench():
    return benchmarks.losses


def fake_run(acc_by_seed, error_seed=None):
    def run_seed(pair, row, seed, out, passthrough, echo):
        if seed == error_seed:
            return {"error": f"seed {seed}, exit 2: error: boom"}
        acc = acc_by_seed[row][seed]
        return {"teacher_acc": 90.0, "student_acc": acc, "best_student_acc": acc + 1,
                "epochs": 2.0, "train_images": 1000, "seconds_per_epoch": 4.0 + seed,
                "peak_rss_mb": 700.0 + seed,
                "history": [{"acc": acc - 2}, {"acc": acc}]}
    return run_seed


def test_rows_aggregate_seeds_and_report_against_ce(bench, tmp_path, monkeypatch):
    accs = {"ce": {0: 80.0, 1: 82.0}, "kd": {0: 84.0, 1: 85.0}}
    monkeypatch.setattr(bench, "run_seed", fake_run(accs))
    rows = [bench.run_row("lenet", name, [0, 1], tmp_path, [], False) for name in ("kd", "ce")]
    kd = rows[0]
    assert kd["student_acc"] == pytest.approx(84.5)
    assert kd["student_acc_sd"] == pytest.approx(0.7071, abs=1e-4)
    assert kd["seconds_per_epoch"] == pytest.approx(4.5) and kd["peak_rss_mb"] == 701.0
    assert kd["history"] == [82.5, 84.5]
    bench.write_report({"machine": "test", "date": "2026-11-26", "rows": rows}, tmp_path)
    text = (tmp_path / "losses.md").read_text()
    assert "Teacher lenet5: 90.00%" in text and "seeds 0, 1" in text
    ce_line = next(line for line in text.splitlines() if line.startswith("| ce |"))
    kd_line = next(line for line in text.splitlines() if line.startswith("| kd |"))
    assert text.index(ce_line) < text.index(kd_line)  # rows in the order of ROWS
    assert "81.00 ± 1.41" in ce_line
    assert "84.50 ± 0.71 | +3.50 |" in kd_line  # mean vs mean of CE
    assert "82.5 84.5" in kd_line


def test_a_failed_seed_fails_the_row_with_its_message(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "run_seed", fake_run({"kd": {0: 84.0}}, error_seed=1))
    row = bench.run_row("lenet", "kd", [0, 1], tmp_path, [], False)
    assert "student_acc" not in row and "seed 1, exit 2: error: boom" in row["error"]
    bench.write_report({"machine": "test", "date": "2026-11-26", "rows": [row]}, tmp_path)
    assert "failed: seed 1" in (tmp_path / "losses.md").read_text()

"""benchmarks/joint.py (tools/benchmark_joint.py): the report's tables and verdicts, and the
adversarial-KD rows' runs (benchmarks/adversarial_kd.py)."""
from pathlib import Path

import pytest

from benchmarks import ROOT
from benchmarks.adversarial_kd import (
    BASELINES,
    KD_ROWS,
    row_folder,
    run_kd,
    tool_command,
    verdict,
)
from benchmarks.joint import gan_lines, kd_lines, write_report


def gan_result(joint_fid):
    def row(ngf, fid, **extra):
        return {"ngf": ngf, "params": 100 * ngf, "macs": 1e6 * ngf, "fid": fid, "iters": 10,
                "seconds": 5.0, **extra}
    agree = {"l1_teacher": 0.2, "psnr_teacher": 15.0}
    gap = (20.0 - joint_fid) / 10.0
    return {"images": 100, "real_fid": 1.0, "fid_features": "lenet5",
            "rows": {"teacher": row(64, 10.0), "scratch": row(16, 20.0, **agree),
                     "aguinaldo": row(16, 18.0, gap_closed=0.2, **agree),
                     "joint": row(16, joint_fid, gap_closed=gap, **agree)}}


def test_gan_lines_judge_the_gap():
    text = "\n".join(gan_lines(gan_result(12.0)))
    assert "| joint | 16 | 1,600 | 16.0 | 12.00 | 80% | 0.200 / 15.00 dB | 10 | 5 |" in text
    assert "80% of the gap closed: met" in text
    assert "40% of the gap closed: MISSED" in "\n".join(gan_lines(gan_result(16.0)))


def kd_row(row, accs, sd=0.0, teacher=89.7, **extra):
    return {"row": row, "tool": "train_kd.py", "flags": ["--loss", "kd=1"], "seeds": list(range(len(accs))),
            "accs": accs, "acc": sum(accs) / len(accs), "acc_sd": sd, "teacher_acc": teacher,
            "peer_accs": {}, "seconds": 60.0, "iters": 100, **extra}


def test_kd_lines_compare_with_the_plain_baseline():
    rows = [kd_row("kd", [86.0, 86.4, 86.2], 0.2),
            kd_row("kd+adversarial (features)", [86.5, 86.9, 86.7], 0.2),
            kd_row("kdcan", [86.1, 86.5, 86.3], 0.2),
            kd_row("kdgan", [84.0, 84.4, 84.2], 0.2, teacher_in_game=88.25),
            kd_row("afd", [78.0], teacher=None, peer_accs={"acc_0_lenet5": 80.0}),
            kd_row("afd, adv_weight 0 (DML)", [83.0], teacher=None)]
    text = "\n".join(kd_lines(rows))
    assert ("| kd+adversarial (features) | `train_kd.py --loss kd=1` | 86.70 ± 0.20 | "
            "86.50, 86.90, 86.70 | 89.70 | 60 |") in text
    assert ("- kd+adversarial (features) vs kd: +0.50 points: beats it by more than the seed "
            "spread (up to 0.20)") in text
    assert "- kdcan vs kd: +0.10 points: within the seed spread (up to 0.20), not a gain" in text
    assert ("- kdgan vs kd: -2.00 points: falls below it by more than the seed spread "
            "(up to 0.20)") in text
    assert "| 89.70 (in the game: 88.25) |" in text  # KDGAN's teacher trains too
    assert "- afd vs afd, adv_weight 0 (DML): -5.00 points (one seed)" in text
    assert "78.00; acc_0_lenet5 80.00 | none (online peers)" in text


def test_verdict_uses_the_larger_spread_of_the_two_rows():
    base = kd_row("kd", [86.0, 87.0, 86.5], 0.5)
    assert verdict(kd_row("x", [87.0, 87.0, 87.0], 0.0), base).endswith(
        "within the seed spread (up to 0.50), not a gain")
    assert "beats it" in verdict(kd_row("x", [87.1, 87.1, 87.1], 0.0), base)


def test_issue_20_rows_run_three_seeds_against_plain_kd_in_folders_of_their_own():
    for name in ("kd", "kd+adversarial (features)", "kdcan", "kdgan"):
        assert KD_ROWS[name][2] == [0, 1, 2], name
    assert {"kd+adversarial (features)", "kdcan", "kdgan"} <= set(BASELINES["kd"])
    for name in KD_ROWS:
        for flag in KD_ROWS[name][1]:
            if flag.startswith("configs/"):
                assert (ROOT / flag).is_file(), flag
    runs = Path("r")
    folders = {row_folder(runs, name, 1) for name in KD_ROWS}
    assert len(folders) == len(KD_ROWS)  # one folder per (row, seed)
    assert row_folder(runs, "kd+adversarial (features)", 2) == runs / "kd+adversarial_features" / "seed2"
    # the runs of the old logit row (folder kd+adversarial) are never taken for a new row
    assert runs / "kd+adversarial" / "seed0" not in {row_folder(runs, n, 0) for n in KD_ROWS}
    cmd = tool_command("train_kd.py", KD_ROWS["kdgan"][1], 2, ["--data-root", "d"], quick=True)
    assert cmd[1:] == ["--config", str(ROOT / "configs/kd/fashion_mnist_kdgan.yaml"), "--seed",
                       "2", "--data-root", "d", "--epochs", "1", "--set", "train.train_subset=256"]


def test_an_unknown_row_is_one_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="unknown --rows kdgan2; the rows are: kd, "):
        run_kd(tmp_path, [], rows=["kdgan2"])


def test_write_report(tmp_path):
    write_report({"machine": "test", "gan": gan_result(12.0), "kd": [kd_row("kd", [86.0])]}, tmp_path)
    text = (tmp_path / "joint.md").read_text()
    assert "## Joint G+D distillation" in text and "## Adversarial student KD" in text
    assert (tmp_path / "joint.json").exists()

"""benchmarks/joint.py (tools/benchmark_joint.py): the report's tables and verdicts."""
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
    rows = [kd_row("kd", [86.0, 86.4], 0.28), kd_row("kd+adversarial", [86.5, 86.9], 0.28),
            kd_row("afd", [78.0], teacher=None, peer_accs={"acc_0_lenet5": 80.0}),
            kd_row("afd, adv_weight 0 (DML)", [83.0], teacher=None)]
    text = "\n".join(kd_lines(rows))
    assert "| kd+adversarial | `train_kd.py --loss kd=1` | 86.70 ± 0.28 | 86.50, 86.90 | 89.70 | 60 |" in text
    assert "- kd+adversarial vs kd: +0.50 points (seed spread up to 0.28)" in text
    assert "- afd vs afd, adv_weight 0 (DML): -5.00 points (one seed)" in text
    assert "78.00; acc_0_lenet5 80.00 | none (online peers)" in text


def test_write_report(tmp_path):
    write_report({"machine": "test", "gan": gan_result(12.0), "kd": [kd_row("kd", [86.0])]}, tmp_path)
    text = (tmp_path / "joint.md").read_text()
    assert "## Joint G+D distillation" in text and "## Adversarial student KD" in text
    assert (tmp_path / "joint.json").exists()

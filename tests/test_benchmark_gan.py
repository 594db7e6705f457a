"""benchmarks/gan/ (tools/benchmark_gan.py): the rows' plan and budgets, mean ± std over
seeds, the target line, the page, the scheduling, and --quick end to end with a resumed
half-done run."""
import json
import shutil

import pytest
import torch

from benchmarks.gan import cli, runs
from benchmarks.gan.page import teacher_lines, write_page
from benchmarks.gan.plan import BUDGETS, METHODS, SCRATCH_TIME, TASKS, plan, plan_run
from benchmarks.gan.summary import compression_target, mean_sd, overall, summarize, target
from benchmarks.report import gan_points, gan_spread
from dfkd.nets import build_model, save_weights


def fake(row, seed, fid, macs=1e6, cpu=60.0, **extra):
    return {"task": "pix2pix", "row": row, "seed": seed, "ngf": 16, "netG": "resnet_9blocks",
            "arch": f"a{macs}", "params": 1000, "macs_task": macs, "macs_256": 64 * macs,
            "fid": fid, "cpu_seconds": cpu, "train_seconds": cpu, "iters": 10,
            "config_iters": 10, "note": "", **extra}


def test_mean_and_sample_std_over_seeds_by_hand():
    assert mean_sd([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert mean_sd([4.0]) == (4.0, 0.0)
    rows = summarize([fake("omgd", 2, 3.0, cpu=180.0), fake("omgd", 0, 1.0, cpu=60.0),
                      fake("omgd", 1, 2.0, cpu=120.0, psnr_teacher=20.0),
                      fake("teacher", 0, 0.5, macs=16e6)], ["teacher", "omgd"])
    assert list(rows) == ["teacher", "omgd"]
    s = rows["omgd"]
    assert s["seeds"] == [0, 1, 2] and s["fid"] == 2.0 and s["fid_sd"] == 1.0
    assert s["cpu_seconds"] == 120.0 and s["cpu_seconds_sd"] == 60.0
    assert "psnr_teacher" not in s  # one seed of three has it: no mean over a subset


def test_target_line_met_missed_and_out_of_reach():
    rows = summarize([fake("teacher", 0, 10.0, macs=16e6), fake("teacher", 1, 12.0, macs=16e6),
                      fake("gan_compression", 0, 9.0), fake("gan_compression", 1, 11.0),
                      fake("omgd", 0, 8.0), fake("omgd", 1, 12.0), fake("scratch", 0, 1.0),
                      fake("scratch", 1, 1.0)], ["teacher"])
    t = target(rows)  # teacher 11 ± 1.41; both methods 10 on average; scratch never counts
    assert t["met"] and t["best"] in ("gan_compression", "omgd")
    assert "= 1/16.0 of the teacher's, FID 10.00 ± " in t["text"]
    assert "≤ the teacher's 11.00 ± 1.41" in t["text"]
    worse = summarize([fake("teacher", 0, 10.0, macs=16e6), fake("dcd", 0, 10.5)], [])
    text = target(worse)["text"]
    assert text.startswith("MISSED: best method dcd") and "> the teacher's 10.00" in text
    big = summarize([fake("teacher", 0, 10.0, macs=16e6), fake("dcd", 0, 5.0, macs=1.1e6)], [])
    assert target(big)["text"] == (
        "MISSED: no method's student is at ≤ 1/16 of the teacher's MACs (16.0 M; the smallest, "
        "dcd, has 1.1 M = 1/14.5); best FID at any size: dcd, 5.00 (teacher 10.00)")
    assert "**met** (pix2pix)" in overall({"pix2pix": t, "cyclegan": target(big)})
    assert "**MISSED**" in overall({"cyclegan": target(big)})


def test_page_rows_budget_notes_and_report_points(tmp_path):
    note = "trained 600 iterations instead of the config's 3000: CPU budget: slow"
    rows = [fake("teacher", s, 10.0 + s, macs=16e6) for s in (0, 1)]
    rows += [fake("omgd", s, 9.0 + 2 * s, iters=600, config_iters=3000, note=note,
                  psnr_teacher=20.0 + s, ssim_teacher=0.5, psnr_gt=15.0, ssim_gt=0.4)
             for s in (0, 1)]
    info = {"task": "edges2fashion", "images": 100, "size": 32, "fid_features": "lenet5",
            "real_fid": 0.5, "latency": {"a1000000.0": {"task": 2.0, "256": 30.0}}}
    results = {"runs": rows, "task_info": {"pix2pix": info}, "settings": {"rounds": 5}}
    write_page(results, tmp_path)
    text = (tmp_path / "gan_compression.md").read_text()
    assert ("| omgd | 2 | 16 | 1,000 | 1.0 | 0.06 | 2.00 | 30.0 | 20.50 ± 0.71 / 0.500 ± 0.000 "
            "| 15.00 ± 0.00 / 0.400 ± 0.000 | 10.00 ± 1.41 | 600 (config 3000)¹ | 1.0 ± 0.0 |"
            ) in text
    assert f"- omgd: {note}" in text and "- target (issue 19): met: best method omgd" in text
    assert ("FID per run: teacher 10.00 (seed 0), 11.00 (seed 1); omgd 9.00 (seed 0), "
            "11.00 (seed 1)") in text
    data = {"gan_compression": json.loads((tmp_path / "gan_compression.json").read_text())}
    assert gan_points(data) == {"pix2pix": [("teacher", 16e6, 10.5), ("omgd", 1e6, 10.0)]}
    assert gan_spread(data)["pix2pix"]["omgd"] == pytest.approx(2 ** 0.5)


def test_every_registered_method_has_a_row_and_its_configs(tmp_path):
    from dfkd.generator_distillation import METHODS as REGISTERED

    listed = [m for m, _ in METHODS]
    assert set(REGISTERED.names()) <= set(listed)
    for method, folder in METHODS:
        for name, _ in TASKS.values():
            assert (runs.ROOT / "configs" / folder / f"{name}.yaml").is_file(), (method, name)
    for (row, name), budget in BUDGETS.items():
        run = plan_run(tmp_path, next(k for k, v in TASKS.items() if v[0] == name), row, 0)
        assert run.iters == budget.iters < run.config_iters and run.args[-1] == str(budget.iters)
        assert run.note.startswith(f"trained {budget.iters} iterations instead of the config's")


@pytest.mark.parametrize("quick", [False, True])
def test_every_command_is_a_valid_config_of_its_tool(tmp_path, quick):
    """Each child's flags as its tool reads them (no training): keys, options, budgets."""
    from dfkd.cli import build_gan_config, parse_gan_student_args, with_method_options
    from dfkd.gan_teachers.config import GANConfig
    from dfkd.gan_teachers.train import parse_args as gan_args
    from dfkd.generator_distillation import METHODS as REGISTERED
    from dfkd.generator_distillation.config import CompressConfig

    for run in plan(tmp_path, list(TASKS), list(REGISTERED.names()), [1], quick):
        argv = [*run.args[1:], "--out", str(run.folder)]
        if run.row in ("teacher", "scratch"):
            cfg = build_gan_config(GANConfig(), "gan", gan_args(argv))
        else:
            args = parse_gan_student_args(argv, "", "edges2fashion")
            cfg = with_method_options(build_gan_config(
                CompressConfig(), "compress", args,
                {"teacher_ckpt": args.teacher_ckpt, "student_ngf": args.student_ngf}), REGISTERED)
            assert cfg.method == run.row and cfg.teacher_ckpt == str(run.teacher)
            assert run.teacher.parts[-3:] == ("seed0", "teacher", TASKS[run.task][1])
        seed = 0 if run.row == "teacher" else 1  # one teacher per task, seed 0
        assert cfg.train.iters == run.iters and cfg.train.seed == seed
        assert cfg.task == TASKS[run.task][0] and cfg.train.threads == 1
    scratch = plan_run(tmp_path, "pix2pix", "scratch", 2)  # GAN Compression's CPU time
    assert scratch.iters == round(3000 * SCRATCH_TIME["edges2fashion"]) == 11400
    assert scratch.args[-1] == "11400" and "x 3.8" in scratch.note


def fake_execute(log, fail=()):
    def execute(run):
        log.append(run.name)
        if run.name in fail:
            raise RuntimeError(f"{run.name} failed")
        run.folder.mkdir(parents=True, exist_ok=True)
        (run.folder / "metrics.json").write_text("{}")
        (run.folder / run.product).write_text("")
        return {"cpu_seconds": 1.0, "parts": 1}
    return execute


def test_teachers_run_before_their_students_and_a_failed_one_stops_them(tmp_path, monkeypatch):
    todo = plan(tmp_path, list(TASKS), ["gan_compression", "omgd"], [0, 1])
    assert [r.name for r in todo[:4]] == ["pix2pix/seed0/teacher", "cyclegan/seed0/teacher",
                                          "pix2pix/seed0/scratch", "cyclegan/seed0/scratch"]
    assert len(todo) == 2 + 3 * 2 * 2  # one teacher per task, every row of both seeds
    assert [r.name for r in todo[4:8]] == [  # seed 0's comparison before seed 1's
        "pix2pix/seed0/gan_compression", "cyclegan/seed0/gan_compression",
        "pix2pix/seed1/scratch", "cyclegan/seed1/scratch"]
    assert [r.row for r in todo[-4:]] == ["omgd"] * 4
    log, finished = [], []
    monkeypatch.setattr(runs, "execute", fake_execute(log, fail=("cyclegan/seed0/teacher",)))
    errors = runs.run_all(todo, 2, lambda run, spent: finished.append(run.name))
    assert len(log) == 2 + 3 * 2 and set(finished) == set(log) - {"cyclegan/seed0/teacher"}
    for name in log:
        task, seed, row = name.split("/")
        if row != "teacher":
            assert log.index(f"{task}/seed0/teacher") < log.index(name)
    assert errors == ["cyclegan/seed0/teacher failed"] + [
        f"cyclegan/seed{s}/{r} not run: its teacher failed" for s, r in (
            (0, "scratch"), (0, "gan_compression"), (1, "scratch"), (1, "gan_compression"),
            (0, "omgd"), (1, "omgd"))]
    log.clear()  # called again: the failed teacher and its students run, the rest too
    monkeypatch.setattr(runs, "execute", fake_execute(log))
    assert runs.run_all(todo, 2, lambda *a: None) == [] and "cyclegan/seed1/omgd" in log
    log.clear()  # nothing starts after --stop-after; finished runs are still reported
    finished.clear()
    fresh = plan(tmp_path, ["pix2pix"], [], [5])[1:]  # seed 5's scratch: not trained
    assert runs.run_all(todo + fresh, 1, lambda run, spent: finished.append(run.name),
                        stop_after=0) == []
    assert sorted(finished) == sorted(r.name for r in todo) and not set(log) & {
        r.name for r in fresh}


def test_quick_end_to_end_then_a_cut_run_resumed(fake_data_root, tmp_path):
    """Three quick runs, measured and reported; then gan_compression cut after its first
    iteration (its folder holds latest.pt and no metrics.json): the second call reuses the
    teacher and scratch and resumes it to the same weights bit for bit."""
    lenet = tmp_path / "lenet5.pt"
    save_weights(build_model("lenet5", in_channels=1, num_classes=10), lenet,
                 {"arch": "lenet5", "dataset": "fashion_mnist", "test_acc": 10.0})
    argv = ["--quick", "--tasks", "pix2pix", "--seeds", "0", "--methods", "gan_compression",
            "--jobs", "1", "--data-root", str(fake_data_root), "--fid-ckpt", str(lenet),
            "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")]
    assert cli.main(argv) == 0
    result = json.loads((tmp_path / "out" / "gan_compression.json").read_text())
    assert [(r["row"], r["seed"]) for r in result["runs"]] == [
        ("teacher", 0), ("scratch", 0), ("gan_compression", 0)]
    for r in result["runs"]:
        assert r["fid"] >= 0 and r["macs_task"] > 0 and r["cpu_seconds"] > 0 and r["iters"] == 2
        assert r.get("teacher_sha", result["runs"][0]["sha"]) == result["runs"][0]["sha"]
    rows = result["tasks"]["pix2pix"]["rows"]
    assert rows["teacher"]["macs_task"] > 13 * rows["gan_compression"]["macs_task"]  # ngf 8 -> 2
    assert rows["gan_compression"]["latency_ms_256"] > 0 and "psnr_gt" in rows["scratch"]
    assert "| gan_compression | 1 | 2 |" in (tmp_path / "out" / "gan_compression.md").read_text()
    assert (tmp_path / "out" / "gan_compression_pix2pix.png").stat().st_size > 0
    gc = tmp_path / "runs" / "pix2pix" / "seed0" / "gan_compression"
    straight = torch.load(gc / "latest_net_G.pth", weights_only=True)
    shutil.copyfile(gc / "previous.pt", gc / "latest.pt")  # the checkpoint of iteration 1
    (gc / "metrics.json").unlink(), (gc / "latest_net_G.pth").unlink()
    report = tmp_path / "out" / "gan_compression.json"  # cut before it was measured
    report.write_text(json.dumps({**result, "runs": result["runs"][:2]}))
    assert cli.main(argv) == 0
    assert "resuming" in (gc.parent / "gan_compression.part2.log").read_text()
    assert json.loads((gc / "child.json").read_text())["parts"] == 2
    for row in ("teacher", "scratch"):
        assert json.loads((gc.parent / row / "child.json").read_text())["parts"] == 1
    resumed = torch.load(gc / "latest_net_G.pth", weights_only=True)
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    again = json.loads((tmp_path / "out" / "gan_compression.json").read_text())["runs"]
    assert len(again) == 3 and again[-1]["parts"] == 2 and again[-1]["iters"] == 2


def test_rows_measured_before_are_kept_when_their_folders_are_gone(tmp_path):
    """A new session's work tree: the teacher and seed 0's scratch and GAN Compression
    measured, their folders gone; students still to train, so the teacher trains again;
    once every row is measured nothing runs."""
    planned = plan(tmp_path, ["pix2pix"], ["gan_compression", "omgd"], [0, 1])
    measured = [{"task": "pix2pix", "row": r, "seed": 0}
                for r in ("teacher", "scratch", "gan_compression")]
    chosen = {r.name for r in cli.select(planned, {"runs": measured})}
    assert chosen == {r.name for r in planned} - {"pix2pix/seed0/scratch",
                                                   "pix2pix/seed0/gan_compression"}
    cut = next(r for r in planned if r.name == "pix2pix/seed0/gan_compression")
    cut.folder.mkdir(parents=True)
    (cut.folder / "latest.pt").write_bytes(b"")  # a measured run trained again, cut: resumed
    assert cut in cli.select(planned, {"runs": measured})
    everything = [{"task": "pix2pix", "row": r.row, "seed": r.seed} for r in planned]
    shutil.rmtree(cut.folder)
    assert cli.select(planned, {"runs": everything}) == []
    rows = [{"row": "teacher", "seed": 0, "sha": "a"},
            {"row": "omgd", "seed": 1, "teacher_sha": "b"},
            {"row": "dcd", "seed": 2, "teacher_sha": "a"}]
    assert teacher_lines(rows)[0].endswith("differs from the measured one: omgd/seed 1")
    assert teacher_lines(rows[::2]) == []


def test_issue_18_lines_against_scratch_and_the_teacher_by_hand():
    rows = summarize([fake("teacher", 0, 10.0, macs=16e6, latency_ms_task=8.0),
                      fake("gan_compression", 0, 9.0, cpu=600.0, psnr_gt=20.0, ssim_gt=0.7),
                      fake("gan_compression", 1, 11.0, cpu=660.0, psnr_gt=21.0, ssim_gt=0.8),
                      fake("scratch", 0, 12.0, cpu=630.0, psnr_gt=19.0, ssim_gt=0.75),
                      fake("scratch", 1, 12.0, cpu=630.0, psnr_gt=19.0, ssim_gt=0.75)], [])
    rows["gan_compression"]["latency_ms_task"] = 2.5
    rows["teacher"]["latency_ms_task"] = 8.0
    lines = compression_target(rows, "gan_compression")
    # FID and PSNR better, SSIM equal (0.750 is not above 0.750): missed
    assert lines[0] == ("issue 18 (gan_compression): distilled beats scratch at the same CPU "
                        "time: MISSED (FID 10.00 ± 1.41 vs scratch 12.00 ± 0.00; PSNR 20.50 "
                        "± 0.71 vs scratch 19.00 ± 0.00; SSIM 0.750 ± 0.071 vs scratch "
                        "0.750 ± 0.000 (within the seed spread); CPU min 10.5 ± 0.7 vs "
                        "scratch 10.5 ± 0.0)")
    rows["gan_compression"]["ssim_gt"] = 0.76
    assert ": met (FID" in compression_target(rows, "gan_compression")[0]
    assert lines[1].endswith("MACs: 1/16.0 of the teacher's (target ≤ 1/8): met")
    assert lines[2].endswith("CPU latency: 3.20x lower than the teacher's at the task's size "
                             "(target ≥ 4x): MISSED")
    assert lines[3].endswith("FID: 1.00x the teacher's (10.00 ± 1.41 vs 10.00; target ≤ 1.1x): "
                             "met")
    assert compression_target({"teacher": rows["teacher"]}, "gan_compression") == [
        "issue 18 (gan_compression): no teacher and gan_compression rows yet"]


def test_cpu_seconds_come_from_the_training_loop_when_it_counted_them(tmp_path):
    run = plan_run(tmp_path, "pix2pix", "gan_compression", 0)
    run.folder.mkdir(parents=True)
    (run.folder / "metrics.json").write_text(json.dumps({"iters": 3, "cpu_seconds": 12.5}))
    assert runs.cpu_seconds(run, {"cpu_seconds": 99.0, "parts": 1}) == 12.5
    (run.folder / "metrics.json").write_text(json.dumps({"iters": 3}))  # an older run
    assert runs.cpu_seconds(run, {"cpu_seconds": 99.0, "parts": 1}) == 99.0

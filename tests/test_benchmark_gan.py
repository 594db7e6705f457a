"""benchmarks/gan/ (tools/benchmark_gan.py): the rows' plan and budgets, mean ± std over
seeds, the target line, the page, the scheduling, and --quick end to end with a resumed
half-done run."""
import json
import shutil

import pytest
import torch

from benchmarks.gan import cli, runs
from benchmarks.gan.page import teacher_lines, write_page
from benchmarks.gan.plan import BUDGETS, METHODS, TASKS, plan, plan_run
from benchmarks.gan.summary import mean_sd, overall, summarize, target
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
    assert f"- omgd: {note}" in text and "- target: met: best method omgd" in text
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
            assert cfg.method == run.row and cfg.teacher_ckpt.endswith(
                f"seed1/teacher/{TASKS[run.task][1]}")
        assert cfg.train.iters == run.iters and cfg.train.seed == 1 and cfg.train.threads == 1
        assert cfg.task == TASKS[run.task][0]


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
    log, finished = [], []
    monkeypatch.setattr(runs, "execute", fake_execute(log, fail=("cyclegan/seed1/teacher",)))
    errors = runs.run_all(todo, 2, lambda run, spent: finished.append(run.name))
    assert len(log) == 4 + 3 * 3 and set(finished) == set(log) - {"cyclegan/seed1/teacher"}
    for name in log:
        task, seed, row = name.split("/")
        if row != "teacher":
            assert log.index(f"{task}/{seed}/teacher") < log.index(name)
    assert errors == ["cyclegan/seed1/teacher failed"] + [
        f"cyclegan/seed1/{r} not run: its teacher failed"
        for r in ("scratch", "gan_compression", "omgd")]
    log.clear()  # called again: the failed teacher and its students run, the rest too
    monkeypatch.setattr(runs, "execute", fake_execute(log))
    assert runs.run_all(todo, 2, lambda *a: None) == [] and "cyclegan/seed1/omgd" in log
    log.clear()  # nothing starts after --stop-after; finished runs are still reported
    finished.clear()
    fresh = plan(tmp_path, ["pix2pix"], [], [5])  # seed 5: not trained
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
    """A new session's work tree: seed 0 measured and its folders gone; omgd still to
    train there, so its teacher trains again; seed 1 untouched."""
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
    everything = measured + [{"task": "pix2pix", "row": "omgd", "seed": 0}]
    shutil.rmtree(cut.folder)
    chosen = {r.name for r in cli.select(planned, {"runs": everything})}
    assert chosen == {r.name for r in planned if r.seed == 1}
    rows = [{"row": "teacher", "seed": 0, "sha": "a"},
            {"row": "omgd", "seed": 0, "teacher_sha": "b"},
            {"row": "dcd", "seed": 0, "teacher_sha": "a"}]
    assert teacher_lines(rows)[0].endswith("differs from the measured one: omgd/seed 0")
    assert teacher_lines(rows[::2]) == []

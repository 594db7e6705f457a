"""benchmarks/report.py (tools/benchmark_report.py): benchmarks/README.md from whatever
benchmark JSON exists."""
import json

from benchmarks.report import accuracy_series, gan_points, write_report


def results():
    history = [{"seconds": 60.0, "acc": 50.0}, {"seconds": 120.0, "acc": 70.0}]
    return {"methods": [{"variant": "dafl", "student_acc": 70.0, "ratio": 0.78, "teacher_acc": 89.7,
                         "best_student_acc": 71.0, "iters": 100, "seconds": 120.0,
                         "history": history},
                        {"variant": "broken", "error": "exit 1"}]}


def gan():
    row = {"macs_task": 2e6, "fid": 3.0}
    return {"tasks": {"pix2pix": {"rows": {"teacher": {**row, "macs_task": 32e6, "fid": 1.0},
                                           "student": row, "real (train split)": {"fid": 0.5}}}}}


def joint():
    return {"gan": {"rows": {"teacher": {"macs": 17e6, "fid": 5.0}, "joint": {"macs": 1e6, "fid": 9.0}}},
            "kd": [{"row": "kd", "acc": 87.1, "acc_sd": 0.3, "seeds": [0, 1]}]}


def test_series_and_points_skip_what_has_no_figures():
    assert accuracy_series(results()) == {"dafl": [(1.0, 50.0), (2.0, 70.0)]}
    data = {"gan_compression": gan(), "joint": joint()}
    assert gan_points(data) == {"pix2pix": [("teacher", 32e6, 1.0), ("student", 2e6, 3.0)],
                                "dcgan": [("teacher", 17e6, 5.0), ("joint", 1e6, 9.0)]}


def test_page_from_every_json(tmp_path):
    ddp = {"workloads": {"train_kd": {"1": {"seconds": 10.0, "acc": 84.7},
                                      "2": {"seconds": 8.0, "acc": 84.6}}}}
    for name, data in (("results", results()), ("gan_compression", gan()), ("joint", joint()),
                       ("distributed", ddp)):
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    text = write_report(tmp_path, plots=False).read_text()
    assert "| dafl | 70.00 | 0.780 | 71.00 | 100 | 2.0 |" in text and "broken" not in text
    assert "| pix2pix | student | 2.0 | 3.00 |" in text and "| dcgan | joint | 1.0 | 9.00 |" in text
    assert "| kd | 87.10 ± 0.30 |" in text
    assert "| train_kd | 1.25× | 84.70 / 84.60 |" in text
    assert "Knowledge-form losses" not in text  # no losses.json here


def test_page_with_plots_or_a_note(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(results()))
    text = write_report(tmp_path).read_text()
    try:
        import matplotlib  # noqa: F401
        assert "![accuracy_vs_time.png](accuracy_vs_time.png)" in text
        assert (tmp_path / "accuracy_vs_time.png").stat().st_size > 1000
    except ImportError:
        assert "(no accuracy_vs_time.png: matplotlib is not installed" in text


def test_empty_folder(tmp_path):
    assert "No benchmark has been run yet" in write_report(tmp_path).read_text()

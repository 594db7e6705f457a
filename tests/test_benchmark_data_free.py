"""benchmarks/data_free (tools/benchmark.py): variants, the report from hand-made results, and
one tiny real run."""
import importlib.util
import json
import re
import sys

import pytest

from benchmarks.children import run_child
from benchmarks.data_free import cli, memory, overhead, report, runs, variants
from dfkd.discriminator_distillation import METHODS

TINY = ["--set", "train.iters=2", "--set", "generator.ngf=4", "--set", "generator.nz=8",
        "--set", "train.batch_size=16", "--set", "train.eval_every=1",
        "--set", "train.image_every=0"]


@pytest.fixture
def out(tmp_path, monkeypatch):
    """The benchmark's default output folder, here: ``tmp_path``."""
    for module in (runs, overhead, report):
        monkeypatch.setattr(module, "OUT", tmp_path)
    return tmp_path


def make_row(variant, method, acc, *, iters=1000, rss=512.0, bank=None, overrides=()):
    history = [{"iteration": iters // 2, "seconds": 150.0, "acc": acc - 2},
               {"iteration": iters, "seconds": 300.0, "acc": acc}]
    for entry, value in zip(history, bank or []):
        entry["early_bank_acc"] = value
    return {"variant": variant, "method": method, "overrides": list(overrides),
            "teacher_acc": 90.0, "student_acc": acc, "best_student_acc": acc + 1.5,
            "ratio": acc / 90.0, "iters": iters, "seconds": 300.0, "iters_per_s": iters / 300,
            "peak_rss_mb": rss, "history": history,
            "config": {"train": {"eval_every": iters // 2}}}


OVERHEAD = {"method": "dfad", "shared_s_per_iter": 0.102, "manual_s_per_iter": 0.1,
            "ratio": 1.02, "block_ratio_quartiles": [0.95, 1.08], "blocks": 6,
            "iters_per_block": 10}
MEMORY = {"variant": "memory-dafl", "overrides": ["replay.capacity=10000"], "early_iter": 1000,
          "late_iter": 10000, "rss_early_mb": 400.0, "rss_late_mb": 402.5, "growth_mb": 2.5,
          "flat": True, "peak_rss_mb": 450.0, "seconds": 600.0, "iters_per_s": 16.7,
          "rss_history": [[1000, 400.0], [10000, 402.5]]}


# -- variants -----------------------------------------------------------------------------
def test_variant_names_map_to_method_and_overrides():
    v = variants.parse_variant("dafl-noreplay")
    assert (v.name, v.method, v.overrides) == ("dafl-noreplay", "dafl", ("replay.capacity=0",))
    v = variants.parse_variant("dfad-replay")
    assert v.method == "dfad" and "replay.capacity=10000" in v.overrides
    assert "replay.policy=reservoir" in v.overrides and "replay.ratio=0.5" in v.overrides
    assert variants.parse_variant("dafl") == variants.Variant("dafl", "dafl", ())
    assert variants.parse_variant("mad-noreplay").method == "mad"


@pytest.mark.parametrize("name, message", [
    ("dafll", "unknown variant 'dafll' \\(did you mean 'dafl'\\?\\)"),
    ("dfad-replya", "did you mean 'dfad-replay'"),
    ("foo", "a variant is a method \\(" + re.escape(", ".join(METHODS.names())) + "\\) "),
])
def test_unknown_variant_is_a_clear_error(name, message):
    with pytest.raises(variants.BenchmarkError, match=message):
        variants.parse_variant(name)


def test_default_variants_switch_replay_the_other_way(tmp_path, monkeypatch):
    configs = tmp_path / "configs"
    for method, replay in (("dafl", "replay: {capacity: 10000}\n"), ("dfad", "")):
        (configs / method).mkdir(parents=True)
        (configs / method / "fashion_mnist.yaml").write_text("teacher: lenet5\n" + replay)
    monkeypatch.setattr(variants, "CONFIGS", configs)
    assert variants.default_variants(("dafl", "dfad")) == ["dafl", "dafl-noreplay",
                                                           "dfad", "dfad-replay"]
    assert [v.name for v in variants.resolve_variants(["dfad", "dafl", "dfad"])] == ["dfad", "dafl"]
    with pytest.raises(variants.BenchmarkError, match="mad has no embedded-default config"):
        variants.resolve_variants(["dafl", "mad"])


def test_the_methods_are_the_registry():
    """The benchmark runs every registered data-free method, in the registry's order, but
    those another benchmark measures."""
    names = tuple(METHODS.names())
    assert variants.method_names() == names
    assert variants.registry_names_in_child() == names  # how a parent without torch reads them
    assert variants.default_variants()[::2] == [m for m in names if m not in variants.ELSEWHERE]
    assert "dafl" in variants.default_variants() and "nayer" not in variants.default_variants()


def test_rows_sort_in_registry_order_then_plain_replay_noreplay():
    names = METHODS.names()
    rows = [{"variant": m + s, "method": m}
            for m in reversed(names) for s in ("-noreplay", "", "-replay")]
    ordered = [variants.row_key(r) for r in sorted(rows, key=variants.row_order)]
    assert ordered == [m + s for m in names for s in ("", "-replay", "-noreplay")]


# -- the report ---------------------------------------------------------------------------
def test_report_tables(out, tmp_path):
    rows = [make_row("dafl", "dafl", 72.0, rss=512.4),
            make_row("dafl-noreplay", "dafl", 80.0, rss=498.0, overrides=["replay.capacity=0"])]
    report.write_report({"machine": "test", "date": "2026-11-25", "methods": rows,
                         "memory": MEMORY, "overhead": OVERHEAD})
    md = (tmp_path / "results.md").read_text()
    assert "| variant | teacher acc | student acc | ratio | best acc | iters | wall time | " \
           "it/s | peak RSS (MB) |" in md
    assert "| dafl | 90.00 | 72.00 | 0.800 | 73.50 | 1000 | 5.0 min | 3.33 | 512 |" in md
    assert "| dafl-noreplay | 90.00 | 80.00 | 0.889 | 81.50 | 1000 | 5.0 min | 3.33 | 498 |" in md
    assert "`dafl-noreplay`: replay.capacity=0" in md
    assert "dafl student accuracy during the run (iteration every 500): " \
           "70.0% at 2.5 min, 72.0% at 5.0 min" in md
    assert "below: dafl (0.800)" in md and "best ratio 0.889 (dafl-noreplay)" in md
    assert "## Memory" in md and "**400.0 MB** at iteration 1000" in md
    assert "**402.5 MB** at iteration 10000, a difference of +2.5 MB" in md and ": flat" in md
    assert "## Forgetting" not in md  # no dfad or mad row
    assert "102.0 ms vs 100.0 ms" in md and "blocks **1.020**" in md and "0.950-1.080" in md
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["methods"][0]["ratio"] == 0.8 and saved["methods"][0]["peak_rss_mb"] == 512.4


def test_report_of_older_rows_and_failures(out, tmp_path):
    """Rows written before variants existed (no variant, no peak RSS) still render."""
    old = make_row("x", "dfad", 71.0)
    del old["variant"], old["peak_rss_mb"]
    failed = {"variant": "mad", "method": "mad", "overrides": [], "error": "mad failed: boom"}
    report.write_report({"machine": "test", "date": "2026-11-25", "methods": [old, failed],
                         "memory": {"error": "no rss_mb"}})
    md = (tmp_path / "results.md").read_text()
    assert "| dfad | 90.00 | 71.00 | 0.789 | 72.50 | 1000 | 5.0 min | 3.33 | n/a |" in md
    assert "| mad | failed (see below) |" in md and "mad failed: mad failed: boom" in md
    assert "Not measured: no rss_mb" in md and "mad: no run in these results." in md


def test_forgetting_section_and_plot(out, tmp_path):
    rows = [make_row("dfad", "dfad", 70.0, bank=[95.0, 80.0]),
            make_row("mad", "mad", 74.0, bank=[96.0, 91.5])]
    report.write_report({"machine": "test", "date": "2026-11-25", "methods": rows})
    md = (tmp_path / "results.md").read_text()
    assert "dfad early-bank agreement by iteration: 95.0% at 500, 80.0% at 1000; " \
           "final 80.0%, min 80.0%." in md
    assert "mad early-bank agreement by iteration: 96.0% at 500, 91.5% at 1000; " \
           "final 91.5%, min 91.5%." in md
    assert "MAD >= DFAD: yes (74.00 vs 70.00; same budget)" in md
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "forgetting.png").read_bytes()[:4] == b"\x89PNG"
        assert "Plot: [forgetting.png](forgetting.png)" in md
    else:
        assert "No plot: matplotlib is not installed" in md


def test_forgetting_without_matplotlib(out, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    rows = [make_row("dfad", "dfad", 70.0, bank=[95.0, 80.0])]
    report.write_report({"machine": "test", "date": "2026-11-25", "methods": rows})
    md = (tmp_path / "results.md").read_text()
    assert "No plot: matplotlib is not installed" in md
    assert "mad: no run in these results." in md and not (tmp_path / "forgetting.png").exists()
    row = make_row("dfad", "dfad", 70.0)  # a history without early_bank_acc
    report.write_report({"machine": "test", "date": "2026-11-25", "methods": [row]})
    assert "dfad: its history has no early_bank_acc." in (tmp_path / "results.md").read_text()


def test_memory_from_history():
    row = make_row("memory-dafl", "dafl", 60.0, iters=10000)
    with pytest.raises(variants.BenchmarkError, match="no rss_mb at iteration\\(s\\) 5000, 10000"):
        memory.memory_from_row(row, 5000, 10000)
    row["history"][0]["rss_mb"], row["history"][1]["rss_mb"] = 400.0, 460.0
    measured = memory.memory_from_row(row, 5000, 10000)
    assert measured["growth_mb"] == 60.0 and measured["flat"] is False
    assert measured["rss_history"] == [[5000, 400.0], [10000, 460.0]]
    row["history"][1]["rss_mb"] = 415.0
    assert memory.memory_from_row(row, 5000, 10000)["flat"] is True


def test_memory_check_runs_its_variant(out, monkeypatch):
    """The memory run's settings and reading, with the child process faked."""
    seen = {}

    def fake_run_variant(variant, passthrough=(), out=None, echo=True):
        seen["variant"], seen["passthrough"] = variant, passthrough
        row = make_row(variant.name, variant.method, 60.0, iters=10000)
        row["history"][0]["iteration"] = 1000
        row["history"][0]["rss_mb"], row["history"][1]["rss_mb"] = 400.0, 401.0
        return row

    monkeypatch.setattr(memory, "run_variant", fake_run_variant)
    measured = memory.memory_check(passthrough=["--data-root", "d"])
    variant = seen["variant"]
    assert variant.method == "dafl" and seen["passthrough"] == ["--data-root", "d"]
    for override in ("replay.capacity=10000", "replay.policy=reservoir", "train.iters=10000",
                     "train.eval_every=1000", "train.batch_size=32", "generator.ngf=4",
                     "student.steps=1"):
        assert override in variant.overrides
    assert (measured["rss_early_mb"], measured["rss_late_mb"], measured["growth_mb"]) == \
        (400.0, 401.0, 1.0)


def test_summarize_keeps_variant_and_peak_rss():
    metrics = {"method": "dafl", "teacher_acc": 90.0, "student_acc": 45.0,
               "best_student_acc": 50.0, "iters": 10, "seconds": 5.0,
               "iters_per_second": 2.0, "history": [], "config": {}}
    row = runs.summarize(metrics)
    assert row["variant"] == "dafl" and row["ratio"] == 0.5 and row["peak_rss_mb"] is None
    row = runs.summarize(metrics, variant="dafl-noreplay", overrides=("replay.capacity=0",),
                          peak_rss_mb=300.04)
    assert row["overrides"] == ["replay.capacity=0"] and row["peak_rss_mb"] == 300.0


def test_run_child_measures_the_child_peak_rss(tmp_path):
    code = "x = bytearray(200 * 2**20); x[::4096] = b'1' * len(x[::4096]); print('done')"
    status, peak_mb, _, _ = run_child([sys.executable, "-c", code], tmp_path / "log.txt",
                                   echo=False)
    assert status == 0 and peak_mb > 200
    assert (tmp_path / "log.txt").read_text() == "done\n"


# -- a tiny real run ----------------------------------------------------------------------
def test_tiny_benchmark_run_in_child_processes(teacher, fake_data_root, tmp_path):
    """A variant through main() in a child process, on fake data; other rows are kept."""
    kept = make_row("dfad", "dfad", 70.0)
    (tmp_path / "results.json").write_text(json.dumps(
        {"machine": "old", "date": "2026-01-01", "methods": [kept]}))
    status = cli.main(["--methods", "dafl-noreplay", "--no-overhead", "--no-memory", "--quiet",
                       "--data-root", str(fake_data_root), "--teacher-ckpt", str(teacher),
                       "--out-dir", str(tmp_path), *TINY])
    assert status == 0
    results = json.loads((tmp_path / "results.json").read_text())
    rows = {r["variant"]: r for r in results["methods"]}
    assert set(rows) == {"dafl-noreplay", "dfad"} and rows["dfad"] == kept
    row = rows["dafl-noreplay"]
    assert row["method"] == "dafl" and row["iters"] == 2 and row["peak_rss_mb"] > 50
    assert row["overrides"][0] == "replay.capacity=0" and "train.iters=2" in row["overrides"]
    assert row["config"]["replay"]["capacity"] == 0
    assert "teacher_acc=" in (tmp_path / "runs/dafl-noreplay/stdout.txt").read_text()
    md = (tmp_path / "results.md").read_text()
    assert "| dafl-noreplay | " in md and "| dfad | " in md
    assert "memory" not in results and "torch threads" in results["machine"]

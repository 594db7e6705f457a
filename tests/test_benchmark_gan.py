"""benchmarks/gan.py (tools/benchmark_gan.py): the report's table and its verdicts on the
issue's targets."""
import torch

from benchmarks.gan import latencies, save_examples, task_lines, write_report


def row(ngf, macs, lat_task, lat_256, fid, **extra):
    return {"ngf": ngf, "netG": "resnet_9blocks", "params": 1000 * ngf, "macs_task": macs,
            "macs_256": macs * 64, "latency_ms_task": lat_task, "latency_ms_256": lat_256,
            "fid": fid, "train_iters": 10, "train_seconds": 5.0, **extra}


def result():
    quality = {"psnr_teacher": 30.0, "ssim_teacher": 0.95}
    return {"task": "edges2fashion", "images": 100, "size": 32, "fid_features": "lenet5",
            "rows": {"real (train split)": {"fid": 1.5},
                     "teacher": row(64, 16e6, 8.0, 400.0, 10.0, psnr_gt=20.0, ssim_gt=0.8),
                     "student": row(16, 1e6, 4.0, 40.0, 10.5, psnr_gt=19.0, ssim_gt=0.7, **quality),
                     "scratch": row(16, 1e6, 4.0, 40.0, 14.0, psnr_gt=18.0, ssim_gt=0.6, **quality)}}


def test_task_lines_judge_each_target():
    text = "\n".join(task_lines("pix2pix", result()))
    assert "16.0× fewer; target ≤ 1/8): met" in text
    assert "2.00× lower at 32², 10.00× at 256² (target ≥ 4×): MISSED at 32², met at 256²" in text
    assert "student 10.50 vs teacher 10.00 = 1.05× (target ≤ 1.1×): met; scratch 14.00 (1.40×)" in text
    assert "| student | 16 | 16,000 | 1.0 | 0.06 | 4.00 | 40.0 | 30.00 / 0.950 | 19.00 / 0.700 | 10.50 | 10 / 5 |" in text


def test_write_report(tmp_path):
    write_report({"machine": "test", "tasks": {"pix2pix": result()}}, tmp_path)
    assert "### pix2pix: edges2fashion" in (tmp_path / "gan_compression.md").read_text()
    assert (tmp_path / "gan_compression.json").exists()


def test_latencies_per_model_and_size():
    models = {"a": torch.nn.Conv2d(1, 1, 3, padding=1), "b": torch.nn.Identity()}
    lat = latencies(models, 1, (8, 16), rounds=2, repeats=2)
    assert set(lat) == {"a", "b"} and set(lat["a"]) == {8, 16}
    assert all(v > 0 for per in lat.values() for v in per.values())


def test_example_grid_rows(tmp_path):
    from PIL import Image

    x = torch.rand(3, 1, 8, 8) * 2 - 1
    save_examples("pix2pix", x, x, {m: x for m in ("teacher", "student", "scratch")}, tmp_path, n=3)
    save_examples("cyclegan", x, x, {m: x for m in ("teacher", "student", "scratch")}, tmp_path, n=3)
    # rows of 8-pixel images with 1-pixel padding: input, target, teacher, student, scratch
    assert Image.open(tmp_path / "gan_compression_pix2pix.png").size == (3 * 9 + 1, 5 * 9 + 1)
    assert Image.open(tmp_path / "gan_compression_cyclegan.png").size == (3 * 9 + 1, 4 * 9 + 1)

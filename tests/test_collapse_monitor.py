"""The mode-collapse monitor of data-free runs (issue 8): figures by hand, and the warning."""
import json
import math

import pytest
import torch

from dfkd.discriminator_distillation.train import main as train_dfkd
from dfkd.metrics.collapse import class_entropy, collapse_warnings, sample_diversity


def one_hot_logits(classes, k=4):
    return torch.nn.functional.one_hot(torch.tensor(classes), k).float()


def test_class_entropy_by_hand():
    assert class_entropy(one_hot_logits([0, 1, 2, 3])) == pytest.approx(1.0)
    assert class_entropy(one_hot_logits([2, 2, 2, 2])) == pytest.approx(0.0)
    # two classes, half each: log 2 / log 4 = 0.5
    assert class_entropy(one_hot_logits([0, 0, 1, 1])) == pytest.approx(0.5)
    # 3/4 and 1/4: −(¾ln¾ + ¼ln¼)/ln 4
    expected = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) / math.log(4)
    assert class_entropy(one_hot_logits([1, 1, 1, 3])) == pytest.approx(expected)


def test_sample_diversity_by_hand():
    same = torch.ones(5, 1, 4, 4)
    assert sample_diversity(same) == 0.0
    pair = torch.stack([torch.zeros(1, 4, 4), torch.ones(1, 4, 4)])
    assert sample_diversity(pair) == pytest.approx(1.0)  # RMS difference 1
    three = torch.stack([torch.zeros(2), torch.full((2,), 1.0), torch.full((2,), 3.0)])
    assert sample_diversity(three) == pytest.approx((1 + 3 + 2) / 3)
    with pytest.raises(ValueError, match="at least two"):
        sample_diversity(torch.zeros(1, 3))


def test_warnings_name_the_figure():
    assert collapse_warnings(0.9, 0.5, 0.5, 0.1) == []
    found = collapse_warnings(0.2, 0.01, 0.5, 0.1)
    assert "teacher-class entropy 0.20 < 0.5" in found[0] and "sample diversity 0.010 < 0.1" in found[1]


def test_data_free_run_logs_and_warns(teacher, fake_data_root, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--method", "dafl", "--teacher-ckpt", str(teacher), "--data-root", str(fake_data_root),
            "--out", str(out), "--iters", "2", "--batch-size", "16", "--set", "generator.ngf=4",
            "--set", "generator.nz=8", "--set", "train.eval_every=1",
            # only a perfectly even histogram and images 1e9 apart would reach these: a
            # 2-iteration generator is far from both, so every evaluation warns of both
            "--set", "monitor.min_class_entropy=1", "--set", "monitor.min_sample_diversity=1e9"]
    assert train_dfkd(args) == 0
    err = capsys.readouterr().err
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert [h["iteration"] for h in history] == [1, 2]
    # the warnings print the very figures that metrics.json logs
    warned = [line for line in err.splitlines() if line.startswith("warning: possible mode")]
    assert warned == [
        line for h in history for line in (
            f"warning: possible mode collapse at iteration {h['iteration']}: teacher-class "
            f"entropy {h['class_entropy']:.2f} < 1.0 (few classes generated)",
            f"warning: possible mode collapse at iteration {h['iteration']}: sample diversity "
            f"{h['sample_diversity']:.3f} < 1000000000.0 (near-identical samples)")]
    assert all(h["sample_diversity"] > 0 for h in history)  # random latents: distinct images

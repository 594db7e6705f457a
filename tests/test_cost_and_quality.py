"""Cost metrics (params, MACs, latency) and image quality (PSNR, SSIM, FID) against hand counts."""
import math

import pytest
import torch
import torch.nn as nn

from dfkd.core.errors import CheckpointError, ConfigError
from dfkd.metrics.cost import count_macs, count_parameters, cpu_latency
from dfkd.metrics.image_quality import (
    ClassifierFeatures,
    InceptionFeatures,
    feature_extractor,
    fid,
    fid_from_features,
    psnr,
    ssim,
)
from generators.pix2pix import define_G


def test_macs_of_single_layers_by_hand():
    conv = nn.Conv2d(3, 8, kernel_size=3, padding=1)
    # every output value (2 images × 8 channels × 10 × 10) takes 3 × 3 × 3 products
    assert count_macs(conv, torch.zeros(2, 3, 10, 10)) == 2 * 8 * 10 * 10 * 3 * 3 * 3
    grouped = nn.Conv2d(4, 8, kernel_size=3, stride=2, padding=1, groups=2, bias=False)
    assert count_macs(grouped, torch.zeros(1, 4, 8, 8)) == 8 * 4 * 4 * (2 * 3 * 3)
    linear = nn.Linear(5, 7)
    assert count_macs(linear, torch.zeros(4, 5)) == 4 * 5 * 7
    up = nn.ConvTranspose2d(4, 6, kernel_size=3, stride=2, padding=1, output_padding=1)
    x = torch.zeros(1, 4, 5, 5)
    assert count_macs(up, x) == 5 * 5 * 4 * 6 * 9  # each input pixel meets the whole kernel
    assert count_macs(up, x, transposed_by_output=True) == 10 * 10 * 4 * 6 * 9


def test_resnet_9blocks_macs_match_gan_compression_on_meta():
    with torch.device("meta"):
        g = define_G("resnet_9blocks", 3, 3, ngf=64, norm="instance")
        x = torch.empty(1, 3, 256, 256)
    hw = 256 * 256
    exact = (hw * 3 * 64 * 49 + hw // 4 * 64 * 128 * 9 + hw // 16 * 128 * 256 * 9
             + 9 * 2 * hw // 16 * 256 * 256 * 9
             + hw // 16 * 256 * 128 * 9 + hw // 4 * 128 * 64 * 9 + hw * 64 * 3 * 49)
    assert count_macs(g, x) == exact
    assert round(count_macs(g, x, transposed_by_output=True) / 1e9, 1) == 56.8  # Li et al. 2020
    assert round(count_parameters(g) / 1e6, 1) == 11.4


def test_count_parameters():
    model = nn.Sequential(nn.Linear(5, 7), nn.Linear(7, 2, bias=False))
    assert count_parameters(model) == 5 * 7 + 7 + 7 * 2
    model[0].requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == 14


def test_cpu_latency_positive_and_modes_restored():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    model[1].eval()
    before = model[1].running_mean.clone()
    result = cpu_latency(model, torch.randn(2, 1, 8, 8), repeats=5, warmup=1)
    assert 0 < result["p25_ms"] <= result["median_ms"] <= result["p75_ms"]
    assert result["iqr_ms"] == pytest.approx(result["p75_ms"] - result["p25_ms"])
    assert result["repeats"] == 5 and result["threads"] == torch.get_num_threads()
    assert model.training and not model[1].training and model[0].training
    assert torch.equal(model[1].running_mean, before)


def test_cpu_latency_quartiles_by_hand(monkeypatch):
    """On a fake clock whose timed runs take 4, 1, 3, 5, 2 ms: median 3, inclusive
    quartiles 2 and 4 (the warm-up run is not timed)."""
    import types

    from dfkd.metrics import cost

    durations = [4, 1, 3, 5, 2]
    ticks = iter([t for i, d in enumerate(durations) for t in (10.0 * i, 10.0 * i + d / 1000)])
    monkeypatch.setattr(cost, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks)))
    calls = []
    model = nn.Linear(3, 2)
    model.register_forward_hook(lambda *args: calls.append(1))
    result = cpu_latency(model, torch.zeros(1, 3), repeats=5, warmup=2)
    assert len(calls) == 7 and next(ticks, None) is None  # 2 untimed + 5 timed runs
    assert result["median_ms"] == pytest.approx(3.0)
    assert result["p25_ms"] == pytest.approx(2.0) and result["p75_ms"] == pytest.approx(4.0)
    assert result["iqr_ms"] == pytest.approx(2.0)


def test_psnr_of_known_mse():
    a = torch.zeros(2, 3, 16, 16)
    b = a + 0.1  # MSE 0.01 on a range of 2: 10·log10(4 / 0.01)
    assert psnr(a, b) == pytest.approx(10 * math.log10(400), abs=1e-4)
    b[1] += 0.1  # second image: MSE 0.04
    per_image = psnr(a, b, reduction="none")
    assert per_image.tolist() == pytest.approx([10 * math.log10(400), 10 * math.log10(100)], abs=1e-4)
    # the same images as [0, 1] pictures give the same dB
    assert psnr((a + 1) / 2, (b + 1) / 2, data_range=1.0) == pytest.approx(psnr(a, b), abs=1e-4)
    with pytest.raises(ConfigError, match="data_range"):
        psnr(a * 255, b * 255)


def test_ssim():
    torch.manual_seed(0)
    a = torch.rand(2, 3, 24, 24) * 2 - 1
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-6)
    noisy = (a + 0.3 * torch.randn_like(a)).clamp(-1, 1)
    value = ssim(a, noisy)
    assert 0 < value < 0.9
    # [-1, 1] with the defaults equals the same pictures in [0, 1]
    assert ssim((a + 1) / 2, (noisy + 1) / 2, data_range=1.0, low=0.0) == pytest.approx(value, abs=1e-6)
    with pytest.raises(ConfigError, match="at least 11"):
        ssim(a[..., :8, :8], a[..., :8, :8])


def test_fid_from_features_by_hand():
    torch.manual_seed(0)
    f = torch.randn(200, 6, dtype=torch.float64)
    assert fid_from_features(f, f) == pytest.approx(0.0, abs=1e-9)
    shift = torch.tensor([1.0, -2.0, 0.5, 0.0, 0.0, 3.0], dtype=torch.float64)
    # same covariance: the trace term vanishes, FID = ‖Δμ‖² = 1 + 4 + 0.25 + 9
    assert fid_from_features(f, f + shift) == pytest.approx(14.25, abs=1e-8)
    # 1-d Gaussians: (μ1 − μ2)² + (σ1 − σ2)²
    g = torch.randn(500, 1, dtype=torch.float64)
    h = 3 * g + 1
    by_hand = (h.mean() - g.mean()) ** 2 + (h.std() - g.std()) ** 2
    assert fid_from_features(g, h) == pytest.approx(by_hand.item(), rel=1e-9)
    with pytest.raises(ConfigError, match="same D"):
        fid_from_features(f, f[:, :3])


def test_fid_with_classifier_features_says_which():
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 6), nn.ReLU(), nn.Linear(6, 3))
    classifier.train()
    extractor = feature_extractor(classifier=classifier)
    assert isinstance(extractor, ClassifierFeatures)
    assert "not Inception" in extractor.name and "6-d" in extractor.name
    torch.manual_seed(0)
    real = torch.rand(12, 3, 8, 8) * 2 - 1
    result = fid(real, [real[:5], real[5:]], extractor, batch_size=4)
    assert result["fid"] == pytest.approx(0.0, abs=1e-6)
    assert result["features"] == extractor.name and result["n_real"] == result["n_fake"] == 12
    assert classifier.training  # mode restored
    with pytest.raises(ConfigError, match="Inception-v3 weights"):
        feature_extractor()


def test_inception_features_load_local_file_only(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        InceptionFeatures(tmp_path / "pt_inception.pth")
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not an Inception-v3 state_dict"):
        InceptionFeatures(tmp_path / "other.pth")
    from torchvision.models import inception_v3
    # pytorch-fid's layout: 1008 classes, no auxiliary head
    state = inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008).state_dict()
    torch.save(state, tmp_path / "pt_inception-2015-12-05.pth")
    extractor = InceptionFeatures(tmp_path / "pt_inception-2015-12-05.pth")
    assert "inception_v3" in extractor.name and "pt_inception-2015-12-05.pth" in extractor.name
    assert extractor.model.fc.in_features == 2048 and extractor.model.fc.out_features == 1008

"""Random student views of synthetic images: config, shapes, teacher relabelling."""
import pytest
import torch
from conftest import TinyClassifier, make_method

from dfkd.core.config import validate
from dfkd.core.errors import ConfigError
from dfkd.data.augment import AugmentConfig, build_augment
from dfkd.data.specs import DatasetSpec
from generators import build_generator

SPEC = DatasetSpec("tiny", 1, 8, 10, (0.0,), (1.0,))


def test_no_augmentation_by_default():
    assert build_augment(AugmentConfig(), 32) is None
    with pytest.raises(ConfigError, match="'augment.crop_padding' must be >= 0, got -1"):
        validate(AugmentConfig(crop_padding=-1), "augment.")  # checked when a config is read
    with pytest.raises(ConfigError, match="'augment.mixup' must be >= 0, got -0.5"):
        validate(AugmentConfig(mixup=-0.5), "augment.")


def test_flip_and_crop_views():
    torch.manual_seed(0)
    x = torch.arange(2 * 8 * 8, dtype=torch.float).view(2, 1, 8, 8)
    flip = build_augment(AugmentConfig(flip=True), 8)
    views = torch.stack([flip(x) for _ in range(20)])
    flipped = (views == x.flip(-1)).flatten(2).all(-1)
    same = (views == x).flatten(2).all(-1)
    assert (flipped | same).all() and flipped.any() and same.any()
    crop = build_augment(AugmentConfig(crop_padding=2), 8)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    windows = {(i, j) for _ in range(10) for n, view in enumerate(crop(x))
               for i in range(5) for j in range(5)
               if torch.equal(view, padded[n, :, i:i + 8, j:j + 8])}
    assert len(windows) > 1  # every view is a window of the zero-padded image, and they vary


@pytest.mark.parametrize("method", ["dafl", "dfad"])
def test_student_learns_from_views_the_teacher_relabels(method):
    torch.manual_seed(0)
    teacher, student = TinyClassifier(width=6), TinyClassifier(width=3)
    generator = build_generator("dafl", nz=8, ngf=4, img_size=8, channels=1)
    m = make_method(method, teacher, student, generator, SPEC, nz=8, batch_size=16,
                    augment=build_augment(AugmentConfig(crop_padding=2, flip=True), 8))
    images = generator(torch.randn(16, 8)).detach()
    stale = torch.zeros(16, 10)  # labels that must not survive augmentation
    views, logits, _ = m.student_batch(images, stale)
    assert views.shape == images.shape and not torch.equal(views, images)
    torch.testing.assert_close(logits, teacher.eval()(views))
    assert not logits.requires_grad


def test_mixup_blends_random_pairs_with_beta_weights():
    mix = build_augment(AugmentConfig(mixup=0.4), 8)
    x = torch.arange(6.0).view(6, 1, 1, 1).expand(6, 1, 8, 8).contiguous()
    torch.manual_seed(0)
    out = mix(x)
    torch.manual_seed(0)
    lam = torch.distributions.Beta(0.4, 0.4).sample((6,))
    perm = torch.randperm(6)
    expected = lam.view(6, 1, 1, 1) * x + (1 - lam.view(6, 1, 1, 1)) * x[perm]
    torch.testing.assert_close(out, expected)
    assert ((lam > 0) & (lam < 1)).all() and not torch.equal(out, x)
    with pytest.raises(ConfigError, match="'augment.mixup' must be >= 0"):
        validate(AugmentConfig(mixup=-1.0), "augment.")

import gzip

import pytest
import torch
from conftest import TinyClassifier

from dfkd.core.errors import DatasetMissingError, DfkdError
from dfkd.core.registry import UnknownNameError
from dfkd.data import get_spec, load_tensors, prepare_fashion_mnist
from dfkd.data.locate import MNIST_FILES
from dfkd.nets.hooks import FeatureRecorder


def test_fashion_mnist_from_a_debian_style_folder(fake_data_root, tmp_path):
    debian = tmp_path / "debian"
    debian.mkdir()
    for name in MNIST_FILES:  # gzip the fake idx files as the Debian package ships them
        raw = (fake_data_root / "FashionMNIST" / "raw" / name).read_bytes()
        with gzip.open(debian / f"{name}.gz", "wb") as f:
            f.write(raw)
    root = tmp_path / "root"
    raw_dir = prepare_fashion_mnist(root, debian_dir=debian)
    assert sorted(p.name for p in raw_dir.iterdir()) == sorted(MNIST_FILES)
    test = load_tensors("fashion_mnist", root, train=False)
    assert test.tensors[0].shape == (100, 1, 32, 32)  # padded 28 -> 32
    assert test.tensors[1][:3].tolist() == [0, 1, 2]


def test_normalization_and_padding(fake_data_root):
    spec = get_spec("fashion_mnist")
    x = load_tensors("fashion_mnist", fake_data_root, train=True).tensors[0]
    border = -spec.mean[0] / spec.std[0]  # a zero pixel after normalization
    assert torch.allclose(x[:, :, :2, :], torch.full_like(x[:, :, :2, :], border))
    assert x.max() <= (1 - spec.mean[0]) / spec.std[0] + 1e-5


def test_missing_fashion_mnist_names_the_fix(tmp_path):
    with pytest.raises(DatasetMissingError, match="make data"):
        prepare_fashion_mnist(tmp_path, debian_dir=tmp_path / "nowhere")


def test_missing_torchvision_dataset(tmp_path):
    with pytest.raises(DatasetMissingError, match="cifar-10-batches-py"):
        load_tensors("cifar10", tmp_path)


def test_unknown_dataset():
    with pytest.raises(UnknownNameError, match="Did you mean 'cifar10'"):
        get_spec("cifar11")


def test_recorder_records_and_removes_hooks():
    model = TinyClassifier()
    x = torch.randn(2, 1, 8, 8)
    with FeatureRecorder(model, {"feat": "fc"}, inputs=True) as rec:
        logits = model(x)
    assert rec["feat"].shape == (2, 16)
    torch.testing.assert_close(model.fc(rec["feat"]), logits)
    assert not model.fc._forward_pre_hooks
    with FeatureRecorder(model, {"bn": "bn"}) as rec:
        model(x)
    assert rec["bn"].shape == (2, 4, 8, 8) and not model.bn._forward_hooks


def test_recorder_removes_hooks_when_forward_raises():
    model = TinyClassifier()
    with pytest.raises(RuntimeError):
        with FeatureRecorder(model, {"feat": "fc"}, inputs=True):
            model(torch.randn(2, 3, 8, 8))  # wrong channel count
    assert not model.fc._forward_pre_hooks


def test_recorder_keeps_the_graph():
    model = TinyClassifier()
    x = torch.randn(2, 1, 8, 8, requires_grad=True)
    with FeatureRecorder(model, {"feat": "fc"}, inputs=True) as rec:
        model(x)
    rec["feat"].abs().mean().backward()
    assert x.grad is not None


def test_recorder_unknown_layer():
    with pytest.raises(DfkdError, match="no module 'fc9'"):
        FeatureRecorder(TinyClassifier(), {"f": "fc9"})


def test_image_folder_dataset(tmp_path):
    from PIL import Image

    from dfkd.data import image_folder_spec

    for split, n in (("train", 3), ("test", 2)):
        for k, cls in enumerate(("cat", "dog")):
            folder = tmp_path / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (40, 24), (100 * k, 50, 200)).save(folder / f"{i}.png")
    spec = get_spec("imagefolder", tmp_path)
    assert (spec.num_classes, spec.in_channels, spec.image_size) == (2, 3, 32)
    assert spec.class_name(1) == "dog"
    x, y = load_tensors("imagefolder", tmp_path, train=True).tensors
    assert x.shape == (6, 3, 32, 32) and y.tolist() == [0, 0, 0, 1, 1, 1]
    torch.testing.assert_close(x[0, :, 5, 5], (torch.tensor([0, 50, 200]) / 255 - 0.5) / 0.5)
    (tmp_path / "spec.yaml").write_text("in_channels: 1\nimage_size: 16\n")
    assert load_tensors("imagefolder", tmp_path).tensors[0].shape == (4, 1, 16, 16)
    with pytest.raises(DatasetMissingError, match="nothere/train"):
        image_folder_spec(tmp_path / "nothere")


def test_mnist_is_resized_to_32(tmp_path, fake_data_root):
    import shutil

    shutil.copytree(fake_data_root / "FashionMNIST", tmp_path / "MNIST")
    x = load_tensors("mnist", tmp_path).tensors[0]
    spec = get_spec("mnist")
    assert x.shape == (100, 1, 32, 32)
    pixels = spec.denormalize(x)
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5
    assert pixels[:, :, :2, :].max() > 0.05  # resized (noise reaches the border), not padded

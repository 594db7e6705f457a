"""The embedded GAN-compression tasks built from (fake) Fashion-MNIST."""
import pytest
import torch

from dfkd.core.errors import ConfigError
from dfkd.data.gan_tasks import edge_map, load_gan_task, sneaker2boot


def test_edge_map_draws_dark_lines_on_white_around_a_bright_square():
    x = torch.zeros(1, 1, 16, 16)
    x[..., 5:11, 5:11] = 1.0
    edges = edge_map(x)
    assert edges.shape == x.shape and set(edges.unique().tolist()) <= {-1.0, 1.0}
    assert edges[0, 0, 0, 0] == 1.0 and edges[0, 0, 8, 8] == 1.0  # background, inside: white
    border = torch.cat([edges[0, 0, 4:12, 4], edges[0, 0, 4:12, 5]])
    assert (border == -1.0).any()  # the square's boundary is drawn


def test_unpaired_split_takes_one_class_per_domain():
    images = torch.rand(6, 1, 4, 4)
    labels = torch.tensor([7, 9, 7, 1, 9, 9])
    a, b = sneaker2boot(images, labels)
    assert len(a) == 2 and len(b) == 3
    torch.testing.assert_close(a[1], images[2] * 2 - 1)
    assert a.min() >= -1 and b.max() <= 1
    with pytest.raises(ConfigError, match="domain B \\(class 9\\) has no images"):
        sneaker2boot(images, torch.tensor([7, 7, 7, 1, 1, 1]))


def test_load_gan_task_from_the_dataset(fake_data_root):
    edges, garments = load_gan_task("edges2fashion", str(fake_data_root), train=False)
    assert edges.shape == garments.shape == (100, 1, 32, 32)
    assert garments.min() >= -1 and garments.max() <= 1
    a, b = load_gan_task("sneaker2boot", str(fake_data_root), train=False)
    assert len(a) == len(b) == 10  # the fake data has 10 images of each class
    with pytest.raises(ConfigError, match="unknown GAN task 'horse2zebra'"):
        load_gan_task("horse2zebra", str(fake_data_root))

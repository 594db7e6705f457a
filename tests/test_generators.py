import pytest
import torch

from dfkd.core.registry import GENERATORS
from generators import DAFLGenerator, build_generator


@pytest.mark.parametrize("channels, size", [(1, 32), (3, 32), (3, 16)])
def test_output_shape_and_standardized_range(channels, size):
    torch.manual_seed(0)
    g = build_generator("dafl", nz=10, ngf=8, img_size=size, channels=channels)
    x = g(torch.randn(64, 10))
    assert x.shape == (64, channels, size, size)
    # final BatchNorm without affine: each channel has batch mean 0 and std 1 in train mode
    assert x.mean(dim=(0, 2, 3)).abs().max() < 1e-4
    assert (x.std(dim=(0, 2, 3)) - 1).abs().max() < 1e-2


def test_state_dict_keys_follow_original_layout():
    g = DAFLGenerator(nz=100, ngf=64, img_size=32, channels=1)
    sd = g.state_dict()
    assert sd["l1.0.weight"].shape == (128 * 8 * 8, 100)
    assert sd["conv_blocks0.0.weight"].shape == (128,)
    assert sd["conv_blocks1.0.weight"].shape == (128, 128, 3, 3)
    assert sd["conv_blocks2.0.weight"].shape == (64, 128, 3, 3)
    assert sd["conv_blocks2.3.weight"].shape == (1, 64, 3, 3)
    assert "conv_blocks2.5.running_mean" in sd and "conv_blocks2.5.weight" not in sd


def test_bn_eps_differs_between_dafl_and_dfad():
    dafl = GENERATORS.get("dafl")(nz=4, ngf=4, img_size=8, channels=1)
    dfad = GENERATORS.get("dfad")(nz=4, ngf=4, img_size=8, channels=1)
    assert dafl.conv_blocks1[1].eps == 0.8 and dfad.conv_blocks1[1].eps == 1e-5


def test_image_size_must_be_multiple_of_4():
    with pytest.raises(ValueError, match="multiple of 4"):
        DAFLGenerator(img_size=30)


def test_gradients_reach_generator():
    g = build_generator("dfad", nz=4, ngf=4, img_size=8, channels=1)
    g(torch.randn(8, 4)).pow(2).mean().backward()
    assert all(p.grad is not None for p in g.parameters())


def test_zskt_generator_has_no_tanh_and_affine_final_bn():
    from generators.dafl import DAFLGenerator

    g = build_generator("zskt", nz=4, ngf=4, img_size=8, channels=1)
    assert not any(isinstance(m, torch.nn.Tanh) for m in g.modules())
    final = g.conv_blocks2[-1]
    assert isinstance(final, torch.nn.BatchNorm2d) and final.affine
    with torch.no_grad():
        final.weight.fill_(3.0)  # unbounded output: std 3 after the affine BN
    x = g(torch.randn(64, 4))
    assert (x.std(dim=(0, 2, 3)) - 3).abs().max() < 0.05
    assert isinstance(g, DAFLGenerator)


def test_conditional_generator_uses_labels():
    from generators import balanced_labels, is_conditional

    torch.manual_seed(0)
    g = build_generator("conditional", nz=6, ngf=4, img_size=8, channels=1, num_classes=3)
    assert is_conditional(g) and not is_conditional(build_generator("dfad", 6, 4, 8, 1))
    assert g.label_emb.weight.shape == (3, 6)
    z = torch.randn(8, 6)
    a = g(z, torch.zeros(8, dtype=torch.long))
    b = g(z, torch.ones(8, dtype=torch.long))
    assert a.shape == (8, 1, 8, 8) and not torch.allclose(a, b)
    # the embedding is summed with z: label k with z equals label 0 with z + e_k - e_0
    shift = g.label_emb.weight[1] - g.label_emb.weight[0]
    torch.testing.assert_close(g(z + shift, torch.zeros(8, dtype=torch.long)), b)
    with pytest.raises(ValueError, match="one label per latent"):
        g(z, torch.zeros(3, dtype=torch.long))
    labels = balanced_labels(10, 3)
    assert sorted(labels.tolist()) == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_multi_generator_gives_each_member_a_slice():
    from generators import MultiGenerator

    torch.manual_seed(0)
    g = build_generator("dfad", nz=4, ngf=4, img_size=8, channels=1, members=3)
    assert isinstance(g, MultiGenerator) and len(g.members) == 3
    z = torch.randn(10, 4)
    x = g(z)
    assert x.shape == (10, 1, 8, 8) and g.sizes == [4, 3, 3]
    torch.testing.assert_close(x[4:7], g.members[1](z[4:7]))  # member 1 drew the second slice
    assert "members.2.l1.0.weight" in g.state_dict()
    cond = build_generator("conditional", nz=4, ngf=4, img_size=8, channels=1, members=2)
    labels = torch.tensor([0, 1, 2, 3])
    torch.testing.assert_close(cond(z[:4], labels)[2:], cond.members[1](z[2:4], labels[2:]))
    with pytest.raises(ValueError, match="cannot feed"):
        g(torch.randn(2, 4))


def test_datafree_generator_normalizes_sigmoid_pixels_with_the_dataset_statistics():
    """DataFree's Generator (CMI, Fast-DFKD, NAYER): Sigmoid pixels, then (x - mean) / std."""
    torch.manual_seed(0)
    mean, std = (0.2860, 0.5, 0.1), (0.3530, 0.25, 0.2)
    g = build_generator("datafree", nz=6, ngf=4, img_size=8, channels=3, mean=mean, std=std)
    z = torch.randn(5, 6)
    x = g(z)
    pixels = g.pixels(z)
    assert x.shape == (5, 3, 8, 8) and pixels.min() >= 0 and pixels.max() <= 1
    expected = (pixels - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    torch.testing.assert_close(x, expected)
    # bounded by the data's range, unlike the standardized DAFL images
    assert x[:, 0].min() >= -0.2860 / 0.3530 - 1e-6 and x[:, 0].max() <= 0.7140 / 0.3530 + 1e-6
    # the code's layout: no bias in the middle convolutions, a biased last one
    convs = [m for m in g.conv_blocks if isinstance(m, torch.nn.Conv2d)]
    assert [c.bias is None for c in convs] == [True, True, False]
    assert isinstance(g.conv_blocks[-1], torch.nn.Sigmoid)


def test_datafree_generator_needs_the_dataset_statistics():
    from dfkd.core.errors import ConfigError
    with pytest.raises(ConfigError, match="mean and std"):
        build_generator("datafree", nz=6, ngf=4, img_size=8, channels=1)
    with pytest.raises(ConfigError, match="1 image channels but the dataset gives 3 means"):
        build_generator("datafree", nz=6, ngf=4, img_size=8, channels=1,
                        mean=(0.5,) * 3, std=(0.5,) * 3)
    members = build_generator("datafree", nz=6, ngf=4, img_size=8, channels=1, members=2,
                              mean=(0.25,), std=(0.5,))
    for member in members.members:
        assert float(member.mean) == 0.25 and float(member.std) == 0.5

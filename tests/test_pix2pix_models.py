"""pix2pix/CycleGAN architectures: state_dict keys and shapes as the original code has them."""
import pytest
import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.nets.hooks import FeatureRecorder
from generators.pix2pix import (
    NLayerDiscriminator,
    ResnetGenerator,
    UnetGenerator,
    define_D,
    define_G,
    distill_layers,
)


def bn(name, c):
    return [(f"{name}.weight", (c,)), (f"{name}.bias", (c,)), (f"{name}.running_mean", (c,)),
            (f"{name}.running_var", (c,)), (f"{name}.num_batches_tracked", ())]


def layout(model):
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def expected_resnet6_ngf4(norm, dropout=False):
    """resnet_6blocks, input_nc=3, output_nc=3, ngf=4, written out by hand."""
    inst = norm == "instance"
    nb = (lambda name, c: []) if inst else bn
    keys = []
    keys += [("model.1.weight", (4, 3, 7, 7))] + ([("model.1.bias", (4,))] if inst else []) + nb("model.2", 4)
    keys += [("model.4.weight", (8, 4, 3, 3))] + ([("model.4.bias", (8,))] if inst else []) + nb("model.5", 8)
    keys += [("model.7.weight", (16, 8, 3, 3))] + ([("model.7.bias", (16,))] if inst else []) + nb("model.8", 16)
    second = 6 if dropout else 5
    for i in range(10, 16):
        block = f"model.{i}.conv_block"
        keys += [(f"{block}.1.weight", (16, 16, 3, 3))] + ([(f"{block}.1.bias", (16,))] if inst else [])
        keys += nb(f"{block}.2", 16)
        keys += [(f"{block}.{second}.weight", (16, 16, 3, 3))]
        keys += [(f"{block}.{second}.bias", (16,))] if inst else []
        keys += nb(f"{block}.{second + 1}", 16)
    # ConvTranspose2d weights are (in, out, k, k)
    keys += [("model.16.weight", (16, 8, 3, 3))] + ([("model.16.bias", (8,))] if inst else []) + nb("model.17", 8)
    keys += [("model.19.weight", (8, 4, 3, 3))] + ([("model.19.bias", (4,))] if inst else []) + nb("model.20", 4)
    keys += [("model.23.weight", (3, 4, 7, 7)), ("model.23.bias", (3,))]  # head: always a bias
    return keys


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_resnet_6blocks_keys_and_shapes(norm):
    g = define_G("resnet_6blocks", 3, 3, ngf=4, norm=norm)
    assert layout(g) == expected_resnet6_ngf4(norm)


def test_resnet_dropout_shifts_second_conv():
    g = ResnetGenerator(3, 3, ngf=4, norm="batch", use_dropout=True, n_blocks=6)
    assert layout(g) == expected_resnet6_ngf4("batch", dropout=True)
    assert isinstance(g.model[10].conv_block[4], nn.Dropout) and g.model[10].conv_block[4].p == 0.5


def test_resnet_9blocks_is_model_0_to_27():
    g = define_G("resnet_9blocks", 3, 3, ngf=4, norm="instance")
    assert len(g.model) == 28 and isinstance(g.model[27], nn.Tanh)
    sd = g.state_dict()
    assert sd["model.10.conv_block.1.weight"].shape == (16, 16, 3, 3)
    assert sd["model.18.conv_block.5.bias"].shape == (16,)
    assert sd["model.26.weight"].shape == (3, 4, 7, 7)
    norms = [m for m in g.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert norms and all(not m.affine and not m.track_running_stats for m in norms)
    ups = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [m.output_padding for m in ups] == [(1, 1), (1, 1)]


def unet128_levels():
    """(outer_nc, inner_nc) of each skip block from outermost to innermost, ngf=4, by hand."""
    return [(3, 4), (4, 8), (8, 16), (16, 32), (32, 32), (32, 32), (32, 32)]


def test_unet_128_keys_and_shapes_batch():
    g = define_G("unet_128", 3, 3, ngf=4, norm="batch")
    keys = [("model.model.0.weight", (4, 3, 4, 4))]
    prefix = "model.model.1.model."
    tail = [("model.model.3.weight", (8, 3, 4, 4)), ("model.model.3.bias", (3,))]
    for outer, inner in unet128_levels()[1:-1]:
        keys += [(f"{prefix}1.weight", (inner, outer, 4, 4))] + bn(f"{prefix}2", inner)
        tail = ([(f"{prefix}5.weight", (inner * 2, outer, 4, 4))] + bn(f"{prefix}6", outer)) + tail
        prefix += "3.model."
    inner_keys = ([(f"{prefix}1.weight", (32, 32, 4, 4)), (f"{prefix}3.weight", (32, 32, 4, 4))]
                  + bn(f"{prefix}4", 32))
    expected = keys + inner_keys + tail
    assert sorted(layout(g)) == sorted(expected)
    assert len(expected) == 70
    # spot checks of the nesting written literally
    sd = g.state_dict()
    assert sd["model.model.1.model.3.model.1.weight"].shape == (16, 8, 4, 4)
    assert sd["model.model.1.model.3.model.3.model.3.model.5.weight"].shape == (64, 32, 4, 4)
    assert "model.model.0.bias" not in sd  # batch norm: no conv biases


def test_unet_instance_norm_biases_and_dropout_position():
    g = UnetGenerator(3, 3, num_downs=7, ngf=4, norm="instance", use_dropout=True)
    sd = g.state_dict()
    assert len(sd) == 28
    assert sd["model.model.0.bias"].shape == (4,)
    assert sd["model.model.1.model.1.bias"].shape == (8,)
    assert not any("running" in k for k in sd)
    # dropout closes the num_downs - 5 = 2 ngf*8 intermediate blocks (index 7): no key moves
    no_dropout = UnetGenerator(3, 3, num_downs=7, ngf=4, norm="instance", use_dropout=False)
    assert list(sd) == list(no_dropout.state_dict())
    drops = [name for name, m in g.named_modules() if isinstance(m, nn.Dropout)]
    assert sorted(drops) == ["model.model.1.model.3.model.3.model.3.model.3.model.7",
                             "model.model.1.model.3.model.3.model.3.model.7"]


def test_nlayer_discriminator_keys():
    d = define_D("basic", input_nc=3, ndf=4, norm="batch")
    expected = ([("model.0.weight", (4, 3, 4, 4)), ("model.0.bias", (4,)),
                 ("model.2.weight", (8, 4, 4, 4))] + bn("model.3", 8)
                + [("model.5.weight", (16, 8, 4, 4))] + bn("model.6", 16)
                + [("model.8.weight", (32, 16, 4, 4))] + bn("model.9", 32)
                + [("model.11.weight", (1, 32, 4, 4)), ("model.11.bias", (1,))])
    assert layout(d) == expected
    assert layout(NLayerDiscriminator(3, 4, n_layers=3, norm="batch")) == expected


def test_output_shapes_and_range():
    torch.manual_seed(0)
    unet = define_G("unet_128", 3, 3, ngf=4, norm="batch").eval()
    resnet = define_G("resnet_6blocks", 3, 2, ngf=4, norm="instance").eval()
    with torch.no_grad():
        y = unet(torch.randn(1, 3, 128, 128))
        z = resnet(torch.randn(1, 3, 64, 64))
        patches = define_D("basic", 3, 4)(torch.randn(1, 3, 64, 64))
    assert y.shape == (1, 3, 128, 128) and y.abs().max() <= 1
    assert z.shape == (1, 2, 64, 64) and z.abs().max() <= 1
    assert patches.shape == (1, 1, 6, 6)


def test_distill_layers():
    assert distill_layers("resnet_9blocks") == ["model.9", "model.12", "model.15", "model.18"]
    assert distill_layers("resnet_6blocks") == ["model.9", "model.11", "model.13", "model.15"]
    g = define_G("resnet_6blocks", 3, 3, ngf=4, norm="instance").eval()
    layers = {name: name for name in distill_layers("resnet_6blocks")}
    with torch.no_grad(), FeatureRecorder(g, layers) as rec:
        g(torch.randn(1, 3, 32, 32))
    assert all(rec[name].shape == (1, 16, 8, 8) for name in layers)
    with pytest.raises(ConfigError, match="ResNet"):
        distill_layers("unet_256")


def test_unknown_names():
    with pytest.raises(ConfigError, match="unknown netG 'resnet_12blocks'.*resnet_9blocks"):
        define_G("resnet_12blocks")
    with pytest.raises(ConfigError, match="unknown norm 'group'"):
        define_G("unet_128", norm="group")
    with pytest.raises(ConfigError, match="pixel"):
        define_D("pixel")

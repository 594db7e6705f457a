"""dfkd.nets.quantize and the quantized export: fake-quant values by hand at 8 and 4 bits
(scale, zero point, clamping), the error bound of a quantized layer, ranges that learn only
in training mode, export + reload + output check, and the errors of bad settings."""
import copy

import pytest
import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError, DfkdError
from dfkd.nets import build_model
from dfkd.nets.export import export_quantized, int8_model
from dfkd.nets.quantize import (
    activation_fake_quant,
    quantize_student,
    read_quantize,
    spec_in_state,
    weight_fake_quant,
)


@pytest.mark.parametrize("bits, scales, expected", [
    # scale = max|w_c| / ((2^b - 1) / 2): the largest weight lands on (2^b - 1) / 2 = 127.5
    # (7.5), which rounds to 127 (7) or to 128 (8), clamped to 127 (7): the top code either way
    (8, [1.0 / 127.5, 2.0 / 127.5], [[64, 127, -33], [127, 6, -19]]),
    (4, [1.0 / 7.5, 2.0 / 7.5], [[4, 7, -2], [7, 0, -1]]),
])
def test_weight_fake_quant_per_channel_symmetric_by_hand(bits, scales, expected):
    w = torch.tensor([[0.5, 1.0, -0.26], [2.0, 0.1, -0.3]])
    fq = weight_fake_quant(bits)
    out = fq(w)
    assert torch.allclose(fq.scale, torch.tensor(scales))
    assert torch.equal(fq.zero_point, torch.zeros(2, dtype=torch.int32))
    assert torch.allclose(out, torch.tensor(expected, dtype=torch.float) * torch.tensor(scales)[:, None])
    # the range is the current weights', not the running extremes
    fq(w / 2)
    assert torch.allclose(fq.scale, torch.tensor(scales) / 2)


@pytest.mark.parametrize("bits, scale, zero_point, codes", [
    # min -1, max 3: scale = 4 / (2^b - 1), zero point = -round(-1 / scale)
    (8, 4 / 255, 64, [0, 64, 96, 255]),  # x / s = -63.75, 0, 31.875, 191.25
    (4, 4 / 15, 4, [0, 4, 6, 15]),  # x / s = -3.75, 0, 1.875, 11.25
])
def test_activation_fake_quant_per_tensor_affine_by_hand(bits, scale, zero_point, codes):
    x = torch.tensor([-1.0, 0.0, 0.5, 3.0])
    fq = activation_fake_quant(bits)
    assert torch.equal(fq.eval()(x), x)  # never trained: the identity
    out = fq.train()(x)
    assert float(fq.scale) == pytest.approx(scale) and int(fq.zero_point) == zero_point
    assert torch.allclose(out, (torch.tensor(codes, dtype=torch.float) - zero_point) * scale)
    # eval mode: frozen range, values beyond it clamped to the top code
    top = (2 ** bits - 1 - zero_point) * scale
    assert float(fq.eval()(torch.tensor([5.0]))) == pytest.approx(top)
    assert float(fq.activation_post_process.max_val) == 3.0
    # training mode: the range moves 1% toward the batch (torch's moving average)
    fq.train()(torch.tensor([-1.0, 5.0]))
    assert float(fq.activation_post_process.max_val) == pytest.approx(3.0 + 0.01 * 2.0)


def test_a_quantized_layer_differs_from_the_float_one_by_at_most_its_steps():
    torch.manual_seed(0)
    float_net = nn.Sequential(nn.Linear(6, 3))
    net = quantize_student(copy.deepcopy(float_net), {"weight_bits": 4, "activation_bits": 8})
    x = torch.randn(32, 6)
    net.train()(x)  # the ranges: this batch's
    net.eval()
    y, y_float = net(x), float_net(x)
    layer = net[0]
    s_in = float(net.input_fake_quant.scale)
    s_w = layer.weight_fake_quant.scale[:, None]
    s_out = float(layer.activation_post_process.scale)
    w = float_net[0].weight.detach()
    # |Δy_i| <= s_out/2 + Σ_j |w_ij| s_in/2 + s_w_i/2 |x_j| + s_w_i s_in/4
    bound = s_out / 2 + (w.abs() * s_in / 2 + s_w / 2 * x.abs()[:, None, :]
                         + s_w * s_in / 4).sum(-1)
    error = (y - y_float).abs()
    assert (error <= bound + 1e-6).all()
    assert error.max() > s_out / 4  # 4-bit weights: the error is visible, not zero


def test_student_is_prepared_in_place_and_saved_with_its_bits():
    torch.manual_seed(0)
    model = build_model("lenet5_half", 1, 10)
    params = dict(model.named_parameters())
    assert quantize_student(model, {"weight_bits": 4, "activation_bits": 6}) is model
    assert all(p is params[n] for n, p in model.named_parameters())  # the optimizer's tensors
    assert isinstance(model.conv1, nn.Conv2d) and hasattr(model.conv1, "weight_fake_quant")
    state = model.state_dict()
    assert spec_in_state(state) == {"weight_bits": 4, "activation_bits": 6}
    assert spec_in_state(build_model("lenet5_half", 1, 10).state_dict()) is None
    assert state["conv2.weight_fake_quant.scale"].shape == (8,)  # shaped as when trained
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


@pytest.mark.parametrize("values, match", [
    ({"weight_bits": 16}, r"student.quantize.weight_bits must be an integer from 2 to 8 .*got 16"),
    ({"activation_bits": 1}, r"activation_bits must be an integer from 2 to 8 .*got 1"),
    ({"weight_bits": 8.0}, r"weight_bits must be an integer"),
    ({"bits": 8}, r"unknown key student.quantize.bits; known: weight_bits"),
    ({"averaging": 0}, r"averaging must be in \(0, 1\]"),
])
def test_bad_quantize_settings_are_one_error(values, match):
    with pytest.raises(ConfigError, match=match):
        read_quantize(values)


def test_models_that_cannot_be_quantized_are_one_error():
    with pytest.raises(ConfigError, match=r"has no nn.Conv2d or nn.Linear layer to quantize"):
        quantize_student(nn.Sequential(nn.BatchNorm1d(3)), {"weight_bits": 8})
    with pytest.raises(ConfigError, match="set student.ema: 0"):
        quantize_student(nn.Linear(2, 2), {"weight_bits": 8}, ema=0.99)
    twice = quantize_student(nn.Sequential(nn.Linear(2, 2)), {"weight_bits": 8})
    with pytest.raises(ConfigError, match="quantized already"):
        quantize_student(twice, {"weight_bits": 8})
    assert quantize_student(nn.Linear(2, 2), {}).__class__ is nn.Linear  # empty: float


def trained_student(bits):
    torch.manual_seed(0)
    model = quantize_student(build_model("lenet5_half", 1, 10),
                             {"weight_bits": bits, "activation_bits": bits})
    for _ in range(3):
        model.train()(torch.randn(32, 1, 32, 32))
    return model.eval()


def test_export_reload_and_check_8_and_4_bit(tmp_path):
    model = trained_student(8)
    results = export_quantized(model, torch.randn(2, 1, 32, 32), tmp_path, name="s8")
    assert results["fakequant"]["ok"] and results["fakequant"]["max_abs_diff"] == 0.0
    int8 = results["int8"]
    assert int8["ok"] and int8["top1_agreement"] == 1.0, int8
    loaded = torch.jit.load(int8["path"])
    assert "quantized::conv2d" in str(loaded.inlined_graph)  # integer kernels, not fake ones
    # the check can fail: another student's int8 copy is far from this fake-quant model
    other = trained_student(8)
    with torch.no_grad():
        other.fc2.bias.add_(1.0)
    from dfkd.nets.export import quantized_engine
    with quantized_engine():
        shifted = int8_model(other)(torch.randn(3, 1, 32, 32))
    assert (shifted - model(torch.randn(3, 1, 32, 32))).abs().max() > int8["tolerance"]
    four = export_quantized(trained_student(4), torch.randn(2, 1, 32, 32), tmp_path, ("int8",))
    assert "skipped" in four["int8"] and not list(tmp_path.glob("model_*"))
    with pytest.raises(DfkdError, match="int8 export needs 8-bit weights and activations"):
        int8_model(trained_student(4))
    with pytest.raises(DfkdError, match="unknown format 'onnx' for a quantized student"):
        export_quantized(model, torch.randn(2, 1, 32, 32), tmp_path, ("onnx",))


@pytest.mark.parametrize("config_type, key", [
    ("dfkd.adversarial_kd.config:KDConfig", "student.quantize"),
    ("dfkd.discriminator_distillation.config:DFKDConfig", "generator.quantize"),
    ("dfkd.discriminator_distillation.config:DFKDConfig", "critic.quantize"),
])
def test_quantize_is_the_data_free_students_only(config_type, key):
    import importlib

    from dfkd.core.config import build_config
    module, name = config_type.split(":")
    default = getattr(importlib.import_module(module), name)()
    with pytest.raises(ConfigError, match=f"unknown config key '{key}'"):
        build_config(default, overrides=[f"{key}={{weight_bits: 8}}"])
    data_free = build_config(importlib.import_module(
        "dfkd.discriminator_distillation.config").DFKDConfig(),
        overrides=["student.quantize={weight_bits: 8}"])
    assert data_free.student.quantize == {"weight_bits": 8}

"""Attention transfer and the BN-statistics prior against hand-computed values."""
import math

import pytest
import torch
import torch.nn as nn

from dfkd.core.errors import ConfigError
from dfkd.losses import BNStatisticsPrior, attention_map, attention_transfer, bn_statistics_loss


def test_attention_map_by_hand():
    # one sample, two channels, 1x2 map: mean_c A² = [(1+9)/2, (4+0)/2] = [5, 2]
    a = torch.tensor([[[[1.0, 2.0]], [[3.0, 0.0]]]])
    expected = torch.tensor([[5.0, 2.0]]) / math.sqrt(29.0)
    torch.testing.assert_close(attention_map(a), expected)


def test_attention_transfer_by_hand_and_channel_agnostic():
    s = torch.tensor([[[[1.0, 0.0]]]])  # 1 channel: attention [1, 0]
    t = torch.tensor([[[[0.0, 2.0]], [[0.0, 2.0]]]])  # 2 channels: attention [0, 1]
    # mean over positions of (a_s - a_t)² = ((1-0)² + (0-1)²) / 2 = 1, per group; two groups
    assert float(attention_transfer([s, s], [t, t])) == pytest.approx(2.0)
    assert float(attention_transfer([t], [t * 7])) == pytest.approx(0.0, abs=1e-12)


def test_attention_transfer_rejects_mismatches():
    with pytest.raises(ValueError, match="as many"):
        attention_transfer([torch.ones(1, 1, 2, 2)], [])
    with pytest.raises(ValueError, match="differ in size"):
        attention_transfer([torch.ones(1, 1, 2, 2)], [torch.ones(1, 1, 3, 3)])


def test_bn_statistics_loss_by_hand():
    # channel 0 values {1, 3}: mean 2, var 1; channel 1 values {0, 0}: mean 0, var 0
    x = torch.tensor([[[[1.0]], [[0.0]]], [[[3.0]], [[0.0]]]])
    mean, var = torch.tensor([2.0, 3.0]), torch.tensor([1.0, 4.0])
    # ‖(0, -3)‖ + ‖(0, -4)‖ = 3 + 4
    assert float(bn_statistics_loss(x, mean, var)) == pytest.approx(7.0)


def test_bn_prior_records_teacher_inputs_and_averages_over_forwards():
    bn = nn.BatchNorm2d(2).eval()
    bn.running_mean.fill_(1.0)
    teacher = nn.Sequential(nn.Identity(), bn)
    x = torch.tensor([[[[1.0]], [[0.0]]], [[[3.0]], [[0.0]]]], requires_grad=True)
    prior = BNStatisticsPrior(teacher)
    with prior:
        teacher(x)
        teacher(x)
    expected = bn_statistics_loss(x, bn.running_mean, bn.running_var)
    torch.testing.assert_close(prior.loss(), expected)  # two forwards, averaged
    prior.loss().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    teacher(x)  # hooks are gone outside the block
    assert len(bn._forward_pre_hooks) == 0


def test_bn_prior_needs_batchnorm():
    with pytest.raises(ConfigError, match="bn_weight"):
        BNStatisticsPrior(nn.Sequential(nn.Conv2d(1, 1, 1)))

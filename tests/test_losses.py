"""Loss formulas against values computed by hand (math module, not torch's losses)."""
import math

import pytest
import torch

from dfkd.losses import activation_loss, class_balance_loss, kd_kl, logit_l1, onehot_loss


def test_kd_kl_tau1_by_hand():
    # p_t = [0.75, 0.25], p_s = [0.5, 0.5]
    t = torch.tensor([[math.log(3.0), 0.0]])
    s = torch.zeros(1, 2)
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert kd_kl(s, t).item() == pytest.approx(expected, rel=1e-6)


def test_kd_kl_temperature_squared_scaling():
    t = torch.tensor([[math.log(3.0), 0.0]])
    s = torch.zeros(1, 2)
    a = math.sqrt(3.0)
    p = [a / (a + 1), 1 / (a + 1)]  # softmax(t / 2)
    expected = 4 * sum(pi * math.log(pi / 0.5) for pi in p)
    assert kd_kl(s, t, temperature=2.0).item() == pytest.approx(expected, rel=1e-6)


def test_kd_kl_batchmean_and_zero_when_equal():
    t = torch.randn(5, 7)
    assert kd_kl(t.clone(), t).item() == pytest.approx(0.0, abs=1e-6)
    one = kd_kl(torch.zeros(1, 2), torch.tensor([[math.log(3.0), 0.0]]))
    two = kd_kl(torch.zeros(2, 2), torch.tensor([[math.log(3.0), 0.0]] * 2))
    assert two.item() == pytest.approx(one.item())  # averaged over the batch, not summed


def test_logit_l1_is_mean_absolute_error():
    s = torch.tensor([[1.0, -2.0], [3.0, 4.0]])
    assert logit_l1(s, torch.zeros(2, 2)).item() == pytest.approx(2.5)


def test_onehot_loss_by_hand():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    expected = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1))) / 2
    assert onehot_loss(logits).item() == pytest.approx(expected, rel=1e-6)


def test_class_balance_loss_extremes():
    balanced = torch.tensor([[20.0, -20.0], [-20.0, 20.0]])
    collapsed = torch.tensor([[20.0, -20.0], [20.0, -20.0]])
    assert class_balance_loss(balanced).item() == pytest.approx(-math.log10(2), rel=1e-5)
    assert class_balance_loss(collapsed).item() == pytest.approx(0.0, abs=1e-5)


def test_activation_loss_by_hand():
    f = torch.tensor([[1.0, -2.0], [3.0, -4.0]])
    assert activation_loss(f).item() == pytest.approx(-2.5)


def test_losses_backpropagate_to_inputs():
    s = torch.randn(4, 10, requires_grad=True)
    t = torch.randn(4, 10)
    (kd_kl(s, t, 4.0) + logit_l1(s, t)).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0


def test_member_diversity_loss_by_hand():
    from dfkd.losses import member_diversity_loss

    big = 50.0
    # member 0 predicts class 0, member 1 class 1: disjoint, TV = 1
    logits = torch.tensor([[big, 0.0], [big, 0.0], [0.0, big]])
    assert float(member_diversity_loss(logits, [2, 1])) == pytest.approx(-1.0)
    # identical members: 0
    same = torch.tensor([[1.0, 2.0], [1.0, 2.0]])
    assert float(member_diversity_loss(same, [1, 1])) == pytest.approx(0.0, abs=1e-7)
    # three members: p̄ = (1,0), (0,1), (.5,.5): TVs 1, .5, .5 -> mean 2/3
    three = torch.tensor([[big, 0.0], [0.0, big], [0.0, 0.0]])
    assert float(member_diversity_loss(three, [1, 1, 1])) == pytest.approx(-2 / 3, abs=1e-6)
    with pytest.raises(ValueError, match="do not split"):
        member_diversity_loss(same, [1, 2])

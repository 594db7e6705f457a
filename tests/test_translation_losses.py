"""The image-translation distillation losses (dfkd/losses/translation.py) by hand."""
import pytest
import torch

from dfkd.losses.translation import (
    feature_loss,
    gram_matrix,
    ssim_loss,
    style_loss,
    total_variation_loss,
    triplet_discriminator_loss,
)


def test_gram_matrix_by_hand():
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 0.0]]]])  # N=1, C=2, H=1, W=2
    expected = torch.tensor([[[5.0, 3.0], [3.0, 9.0]]]) / 4  # f·fᵀ / (C·H·W)
    assert torch.allclose(gram_matrix(f), expected)


def test_style_and_feature_loss_by_hand():
    s = [torch.tensor([[[[1.0, 2.0]], [[3.0, 0.0]]]])]
    t = [torch.zeros(1, 2, 1, 2)]
    # Gram of s is [[5,3],[3,9]]/4; of t zero: mean |.| = (5+3+3+9)/4/4
    assert style_loss(s, t).item() == pytest.approx(20 / 16)
    assert feature_loss(s, t).item() == pytest.approx(6 / 4)
    two = feature_loss(s + s, t + t)  # a sum over layers
    assert two.item() == pytest.approx(3.0)


def test_layers_must_pair():
    with pytest.raises(ValueError, match="2 student maps against 1"):
        feature_loss([torch.zeros(1, 1, 2, 2)] * 2, [torch.zeros(1, 1, 2, 2)])
    with pytest.raises(ValueError, match="map them to one shape"):
        style_loss([torch.zeros(1, 1, 2, 2)], [torch.zeros(1, 2, 2, 2)])


def test_total_variation_is_a_sum_of_neighbour_differences():
    x = torch.tensor([[[[0.0, 1.0], [3.0, 1.0]]]])
    # horizontal |1-0| + |1-3| = 3, vertical |3-0| + |1-1| = 3
    assert total_variation_loss(x).item() == pytest.approx(6.0)
    assert total_variation_loss(torch.cat([x, x])).item() == pytest.approx(12.0)


def test_ssim_loss_zero_for_equal_images_and_differentiable():
    torch.manual_seed(0)
    a = torch.rand(2, 1, 16, 16) * 2 - 1
    assert ssim_loss(a, a).item() == pytest.approx(0.0, abs=1e-5)
    b = (torch.rand(2, 1, 16, 16) * 2 - 1).requires_grad_()
    loss = ssim_loss(b, a)
    assert 0.5 < loss.item() < 1.5  # unrelated noise: SSIM near 0
    loss.backward()
    assert b.grad is not None and b.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="one shape"):
        ssim_loss(a, a[:1])


def test_triplet_discriminator_loss_by_hand():
    real = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    teacher = torch.tensor([[1.0, 1.0], [1.0, 1.0]])  # distances 1, 0
    student = torch.tensor([[2.0, 2.0], [0.0, 2.0]])  # distances 2, 1
    # per image: relu(1 - 2 + 0.5) = 0, relu(0 - 1 + 1.5)... margin 0.5: relu(-0.5)=0
    assert triplet_discriminator_loss(real, teacher, student, 0.5).item() == 0.0
    # margin 2: relu(1 - 2 + 2) = 1, relu(0 - 1 + 2) = 1
    assert triplet_discriminator_loss(real, teacher, student, 2.0).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one shape"):
        triplet_discriminator_loss(real, teacher, student[:1])

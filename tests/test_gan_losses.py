"""GAN losses by hand, the gradient penalty, and the image pool."""
import math

import pytest
import torch
import torch.nn as nn

from dfkd.engine.image_pool import ImagePool
from dfkd.losses.gan import discriminator_loss, gan_loss, gradient_penalty


def test_gan_losses_by_hand():
    x = torch.tensor([0.0, 2.0])
    # vanilla: BCE with logits; real: mean(log(1+e^-x)); fake: mean(log(1+e^x))
    assert float(gan_loss(x, True, "vanilla")) == pytest.approx(
        (math.log(2) + math.log(1 + math.exp(-2))) / 2)
    assert float(gan_loss(x, False, "vanilla")) == pytest.approx(
        (math.log(2) + math.log(1 + math.exp(2))) / 2)
    assert float(gan_loss(x, True, "lsgan")) == pytest.approx((1 + 1) / 2)
    assert float(gan_loss(x, False, "lsgan")) == pytest.approx((0 + 4) / 2)
    assert float(gan_loss(x, True, "hinge")) == pytest.approx((1 + 0) / 2)
    assert float(gan_loss(x, False, "hinge")) == pytest.approx((1 + 3) / 2)
    assert float(gan_loss(x, True, "hinge", for_discriminator=False)) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="unknown GAN loss 'wgan'"):
        gan_loss(x, True, "wgan")
    with pytest.raises(ValueError, match="only asks for 'real'"):
        gan_loss(x, False, "hinge", for_discriminator=False)


def test_gradient_penalty_by_hand_and_differentiable():
    # D(x) = w·x summed: gradient w everywhere, penalty = 10·(‖w‖ − 1)²
    d = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        d.weight.copy_(torch.tensor([[3.0, 4.0]]))
    gp = gradient_penalty(d, torch.randn(5, 2), torch.randn(5, 2))
    assert float(gp) == pytest.approx(10 * (5 - 1) ** 2)
    gp.backward()
    # d/dw 10(‖w‖−1)² = 20(‖w‖−1)·w/‖w‖ = 20·4·(3, 4)/5
    torch.testing.assert_close(d.weight.grad, torch.tensor([[48.0, 64.0]]))


def test_image_pool_fills_then_swaps_and_resumes():
    torch.manual_seed(0)
    pool = ImagePool(4)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    torch.testing.assert_close(pool.query(first), first)  # filling: returned as is
    out = pool.query(torch.full((64, 1, 1, 1), 9.0))
    swapped = (out != 9).sum()
    assert 0 < swapped <= 4 and out.shape == (64, 1, 1, 1)  # each stored image leaves once
    assert len(pool.images) == 4
    clone = ImagePool(0)
    clone.load_state_dict(pool.state_dict())
    assert clone.size == 4 and all(torch.equal(a, b) for a, b in zip(clone.images, pool.images))
    assert torch.equal(ImagePool(0).query(first), first)


def test_wgangp_losses_by_hand():
    x = torch.tensor([[1.0, -3.0]])
    assert float(gan_loss(x, True, "wgangp")) == pytest.approx(1.0)  # critic on reals: −mean
    assert float(gan_loss(x, False, "wgangp")) == pytest.approx(-1.0)  # on fakes: +mean
    assert float(gan_loss(x, True, "wgangp", for_discriminator=False)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="only asks for 'real'"):
        gan_loss(x, False, "wgangp", for_discriminator=False)


def test_discriminator_loss_adds_the_penalty_only_for_wgangp():
    """D(x) = Σ w·x with ‖w‖ = 2: ∇D has norm 2 everywhere, so the penalty is 10·(2 − 1)²."""
    critic = torch.nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[2.0, 0.0, 0.0, 0.0]]))
    real, fake = torch.ones(3, 4), torch.zeros(3, 4)  # D(real) = 2, D(fake) = 0
    losses = discriminator_loss(critic, real, fake, "wgangp")
    assert float(losses["gp"]) == pytest.approx(10.0)
    # Algorithm 1 of Gulrajani et al.: D(fake) − D(real) + λ·GP, λ = 10 against the whole
    # critic term (no ½)
    assert float(losses["loss"]) == pytest.approx((-2.0 + 0.0) + 10.0)
    losses["loss"].backward()
    assert critic.weight.grad is not None
    lsgan = discriminator_loss(critic, real, fake, "lsgan")  # ½[(2 − 1)² + 0²]
    assert "gp" not in lsgan and float(lsgan["loss"]) == pytest.approx(0.5)


def test_image_pool_of_images_of_different_sizes_checkpoints_and_resumes():
    pool = ImagePool(3)
    pool.query(torch.ones(1, 1, 4, 6))
    pool.query(torch.zeros(1, 1, 8, 4))  # --preprocess none: the pooled images differ
    state = pool.state_dict()
    assert isinstance(state["images"], list) and len(state["images"]) == 2
    again = ImagePool(3)
    again.load_state_dict(state)
    assert [tuple(i.shape) for i in again.images] == [(1, 1, 4, 6), (1, 1, 8, 4)]
    same = ImagePool(3)
    same.query(torch.ones(2, 1, 4, 4))
    assert torch.is_tensor(same.state_dict()["images"])  # one size: one tensor, as before

"""DiffusionDenoisedKD (seed 004): outputs, gradient routing, schedule by hand, training."""
import math

import pytest
import torch
import torch.nn as nn

from dfkd.losses import DiffusionDenoisedKD


def _pair(seed=0, n=4, cs=6, ct=8, hw=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, cs, hw, hw, generator=g), torch.randn(n, ct, hw, hw, generator=g)


def test_outputs_are_three_scalars_and_defaults():
    torch.manual_seed(0)
    m = DiffusionDenoisedKD(6, 8)
    assert m.latent_channels == 4 and m.steps == 5
    assert m.denoise_timesteps == [400, 300, 200, 100, 0]
    out = m(*_pair())
    assert set(out) == {"diff", "ae", "ddkd"}
    for v in out.values():
        assert v.dim() == 0 and torch.isfinite(v)
    assert DiffusionDenoisedKD(6, 1).latent_channels == 1


def test_gradients_reach_student_and_every_parameter_not_teacher():
    torch.manual_seed(0)
    m = DiffusionDenoisedKD(6, 8)
    s, t = _pair()
    s.requires_grad_(True)
    t.requires_grad_(True)
    sum(m(s, t).values()).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None
    for name, p in m.named_parameters():
        assert p.grad is not None, name
    # in exact arithmetic some gradients are 0, so only float noise (~1e-9) reaches them: a
    # conv bias right before a BatchNorm (which removes the mean) and the first BatchNorm of
    # the noise adapter's one-channel bottleneck (ReLU -> conv -> BatchNorm is invariant to
    # its scale); everything else moves
    still = [n for n, p in m.named_parameters() if p.grad.abs().sum() <= 1e-6]
    assert all(n.endswith(".bias") or ".block.1." in n for n in still), still


def test_ddkd_loss_alone_trains_student_side_not_autoencoder():
    torch.manual_seed(0)
    m = DiffusionDenoisedKD(6, 8)
    s, t = _pair()
    s.requires_grad_(True)
    m(s, t)["ddkd"].backward()
    assert s.grad.abs().sum() > 0
    for part in (m.student_proj, m.noise_adapter, m.diffusion):  # (see the test above)
        assert all(p.grad is not None for p in part.parameters())
        assert sum(p.grad.abs().sum() > 1e-6 for p in part.parameters()) > 0
    assert all(p.grad.abs().sum() > 1e-6 for p in m.noise_adapter.pred.parameters())
    for part in (m.encoder, m.decoder):
        assert all(p.grad is None for p in part.parameters())


def test_denoising_chain_matches_schedule_by_hand():
    # With Φ_θ ≡ 0, each DDIM step scales by √(ᾱ_prev/ᾱ_t), so 5 steps from t = 400
    # multiply by 1/√ᾱ_400 with ᾱ_t = Π_{i≤t} (1 − β_i), β linear from 1e-4 to 0.02 over 1000.
    class Zero(nn.Module):
        def forward(self, y, t):
            return torch.zeros_like(y)

    m = DiffusionDenoisedKD(2, 2)
    m.diffusion = Zero()
    abar = 1.0
    for i in range(401):
        abar *= 1 - (1e-4 + (0.02 - 1e-4) * i / 999)
    z = torch.tensor([[[[1.0]], [[-2.0]]]])
    assert m.denoise(z).flatten().tolist() == pytest.approx([1 / math.sqrt(abar), -2 / math.sqrt(abar)],
                                                             rel=1e-4)


def test_vectors_accepted_and_deterministic():
    g = torch.Generator().manual_seed(3)
    s, t = torch.randn(8, 5, generator=g), torch.randn(8, 6, generator=g)
    m = DiffusionDenoisedKD(5, 6, latent_channels=2, steps=3)
    assert m.denoise_timesteps == [332, 166, 0]
    torch.manual_seed(7)
    a = m(s, t)
    torch.manual_seed(7)
    b = m(s, t)
    for k in a:
        assert a[k].item() == b[k].item()


def test_a_few_adam_steps_reduce_the_total_loss():
    torch.manual_seed(0)
    m = DiffusionDenoisedKD(6, 8)
    s, t = _pair(seed=1)
    s = nn.Parameter(s)
    opt = torch.optim.Adam(list(m.parameters()) + [s], lr=1e-2)

    def total(seed):
        torch.manual_seed(seed)
        return sum(m(s, t).values())

    with torch.no_grad():
        before = total(123).item()
    for step in range(30):
        opt.zero_grad()
        total(step).backward()
        opt.step()
    with torch.no_grad():
        after = total(123).item()
    assert after < 0.7 * before


def test_shape_errors_name_both_shapes():
    m = DiffusionDenoisedKD(4, 8)
    with pytest.raises(ValueError, match=r"\(2, 4, 4, 4\).*\(2, 8, 5, 5\)"):
        m(torch.randn(2, 4, 4, 4), torch.randn(2, 8, 5, 5))
    with pytest.raises(ValueError, match=r"\(2, 4\).*\(3, 8\)"):
        m(torch.randn(2, 4), torch.randn(3, 8))
    with pytest.raises(ValueError, match="channels"):
        m(torch.randn(2, 5, 4, 4), torch.randn(2, 8, 4, 4))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) or \(N, C\)"):
        m(torch.randn(2, 4, 4), torch.randn(2, 8, 4))

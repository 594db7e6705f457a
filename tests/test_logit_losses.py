"""DKD, perception-reconstruction DKD and the Tf-KD virtual teacher against values computed by
hand with the math module."""
import math

import pytest
import torch

from dfkd.losses import dkd, dkd_parts, kd_kl, pr_dkd, standardize_logits, virtual_teacher_kd


def _softmax(z, tau=1.0):
    e = [math.exp(v / tau) for v in z]
    return [v / sum(e) for v in e]


def _kl(p, q):
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))


def _parts_by_hand(s, t, y, tau):
    """(TCKD, NCKD) of one sample, τ²-scaled, from the definitions."""
    ps, pt = _softmax(s, tau), _softmax(t, tau)
    tckd = _kl([pt[y], 1 - pt[y]], [ps[y], 1 - ps[y]])
    others = [j for j in range(len(s)) if j != y]
    nckd = _kl(_softmax([t[j] for j in others], tau), _softmax([s[j] for j in others], tau))
    return tau ** 2 * tckd, tau ** 2 * nckd


S = [[0.5, -1.0, 1.0], [2.0, 0.0, -0.5]]
T = [[2.0, 1.0, 0.0], [-1.0, 3.0, 0.5]]
Y = [2, 1]


def test_dkd_parts_by_hand_target_and_non_target_split():
    for i in range(2):
        tckd, nckd = dkd_parts(torch.tensor([S[i]]), torch.tensor([T[i]]), torch.tensor([Y[i]]),
                               temperature=1.0)
        e_tckd, e_nckd = _parts_by_hand(S[i], T[i], Y[i], 1.0)
        assert tckd.item() == pytest.approx(e_tckd, rel=1e-5)
        assert nckd.item() == pytest.approx(e_nckd, rel=1e-5)


def test_dkd_parts_temperature_and_batch_mean():
    tckd, nckd = dkd_parts(torch.tensor(S), torch.tensor(T), torch.tensor(Y), temperature=4.0)
    hand = [_parts_by_hand(S[i], T[i], Y[i], 4.0) for i in range(2)]
    assert tckd.item() == pytest.approx((hand[0][0] + hand[1][0]) / 2, rel=1e-5)
    assert nckd.item() == pytest.approx((hand[0][1] + hand[1][1]) / 2, rel=1e-5)
    # τ² scaling: parts at τ = 2 are 4 × the parts of z/2 at τ = 1
    s, t, y = torch.tensor(S), torch.tensor(T), torch.tensor(Y)
    at2 = dkd_parts(s, t, y, temperature=2.0)
    at1 = dkd_parts(s / 2, t / 2, y, temperature=1.0)
    for a, b in zip(at2, at1):
        assert a.item() == pytest.approx(4 * b.item(), rel=1e-5)


def test_dkd_combines_parts_and_defaults():
    s, t, y = torch.tensor(S), torch.tensor(T), torch.tensor(Y)
    tckd, nckd = dkd_parts(s, t, y)  # default τ = 4
    assert dkd(s, t, y, alpha=1.0, beta=1.0).item() == pytest.approx((tckd + nckd).item(), rel=1e-6)
    assert dkd(s, t, y).item() == pytest.approx((tckd + 8 * nckd).item(), rel=1e-6)
    assert dkd(s, t, y, alpha=0.5, beta=2.0, temperature=1.0).item() == pytest.approx(
        sum(0.5 * a + 2.0 * b for a, b in (_parts_by_hand(S[i], T[i], Y[i], 1.0) for i in range(2))) / 2,
        rel=1e-5)
    assert dkd(t.clone(), t, y).item() == pytest.approx(0.0, abs=1e-6)


def test_dkd_reassembles_kd_with_teacher_weight():
    # DKD eq. 6: KD = TCKD + (1 − p_t^T)·NCKD, per sample
    tau = 3.0
    s, t, y = torch.tensor([S[0]]), torch.tensor([T[0]]), torch.tensor([Y[0]])
    tckd, nckd = dkd_parts(s, t, y, temperature=tau)
    pt = _softmax(T[0], tau)[Y[0]]
    assert kd_kl(s, t, tau).item() == pytest.approx((tckd + (1 - pt) * nckd).item(), rel=1e-5)


def test_dkd_is_stable_for_huge_logits():
    s = torch.tensor([[1000.0, 0.0, -1000.0]], requires_grad=True)
    t = torch.tensor([[-1000.0, 500.0, 0.0]])
    loss = dkd(s, t, torch.tensor([0]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(s.grad).all()


def test_dkd_errors():
    with pytest.raises(ValueError, match="same shape"):
        dkd(torch.zeros(2, 3), torch.zeros(2, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="targets must have shape"):
        dkd(torch.zeros(2, 3), torch.zeros(2, 3), torch.tensor([0]))
    with pytest.raises(ValueError, match="at least 2 classes"):
        dkd(torch.zeros(2, 1), torch.zeros(2, 1), torch.tensor([0, 0]))


def test_standardize_logits_by_hand():
    z = torch.tensor([[1.0, 2.0], [2.0, 2.0], [6.0, 5.0]])
    h = standardize_logits(z, eps=0.0)
    # column 0: mean 3, biased variance (4 + 1 + 9)/3; column 1: mean 3, variance (1 + 1 + 4)/3
    c0 = [(v - 3) / math.sqrt(14 / 3) for v in (1, 2, 6)]
    c1 = [(v - 3) / math.sqrt(2) for v in (2, 2, 5)]
    assert h[:, 0].tolist() == pytest.approx(c0, rel=1e-6)
    assert h[:, 1].tolist() == pytest.approx(c1, rel=1e-6)
    assert standardize_logits(z)[:, 0].tolist() == pytest.approx(c0, rel=1e-6)  # default ε tiny
    # a constant column maps to 0, not NaN
    assert standardize_logits(torch.tensor([[1.0], [1.0]])).tolist() == [[0.0], [0.0]]


def test_standardize_logits_invariances():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, 4, generator=g)
    h = standardize_logits(z)
    shifted = standardize_logits(z + torch.tensor([[3.0, -1.0, 0.5, 10.0]]))
    scaled = standardize_logits(z * torch.tensor([[2.0, 0.1, 5.0, 1.0]]))
    assert torch.allclose(h, shifted, atol=1e-5)
    assert torch.allclose(h, scaled, atol=1e-4)
    assert torch.allclose(h.mean(0), torch.zeros(4), atol=1e-6)
    assert torch.allclose(h.var(0, unbiased=False), torch.ones(4), atol=1e-5)


def test_pr_dkd_is_dkd_of_standardized_logits():
    g = torch.Generator().manual_seed(1)
    s, t = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    y = torch.tensor([0, 1, 2, 3, 0])
    expected = dkd(standardize_logits(s), standardize_logits(t), y, alpha=1.0, beta=8.0,
                   temperature=4.0)
    assert pr_dkd(s, t, y).item() == pytest.approx(expected.item(), rel=1e-6)
    # invariant to a per-class shift of the student's logits, unlike plain DKD
    shift = torch.tensor([[5.0, -2.0, 0.0, 1.0]])
    assert pr_dkd(s + shift, t, y).item() == pytest.approx(expected.item(), rel=1e-4)
    assert dkd(s + shift, t, y).item() != pytest.approx(dkd(s, t, y).item(), rel=1e-3)


def test_pr_dkd_needs_two_samples():
    with pytest.raises(ValueError, match="at least 2 samples"):
        pr_dkd(torch.randn(1, 3), torch.randn(1, 3), torch.tensor([0]))


def test_virtual_teacher_kd_by_hand():
    s = [1.0, 0.0, -1.0]
    # p_v = [0.9, 0.05, 0.05]; softening log p_v by τ = 2 gives p_v^(1/2), renormalized
    root = [math.sqrt(0.9), math.sqrt(0.05), math.sqrt(0.05)]
    pv = [v / sum(root) for v in root]
    expected = 4 * _kl(pv, _softmax(s, 2.0))
    got = virtual_teacher_kd(torch.tensor([s]), torch.tensor([0]), correct_prob=0.9, temperature=2.0)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    # τ = 1: plain KL(p_v ‖ softmax(s)); target in the middle; batch mean of two samples
    e1 = _kl([0.05, 0.9, 0.05], _softmax(s))
    e2 = _kl([0.05, 0.9, 0.05], _softmax([0.0, 0.0, 0.0]))
    got = virtual_teacher_kd(torch.tensor([s, [0.0, 0.0, 0.0]]), torch.tensor([1, 1]),
                             temperature=1.0)
    assert got.item() == pytest.approx((e1 + e2) / 2, rel=1e-5)


def test_virtual_teacher_kd_defaults_and_errors():
    s = torch.tensor([[0.0, 0.0, 0.0, 0.0]])
    root = [0.9 ** (1 / 20)] + [(0.1 / 3) ** (1 / 20)] * 3
    pv = [v / sum(root) for v in root]
    assert virtual_teacher_kd(s, torch.tensor([2])).item() == pytest.approx(
        400 * _kl(pv, [0.25] * 4), rel=1e-4)
    with pytest.raises(ValueError, match="correct_prob"):
        virtual_teacher_kd(s, torch.tensor([0]), correct_prob=1.0)
    with pytest.raises(ValueError, match="targets must have shape"):
        virtual_teacher_kd(s, torch.tensor([0, 1]))

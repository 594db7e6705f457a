"""Feature and relation knowledge losses against hand-computed values."""
import math

import pytest
import torch
import torch.nn.functional as F

from dfkd.losses import (
    ContrastiveRepresentation,
    activation_boundary,
    crd_nce,
    factor_transfer,
    fsp_loss,
    fsp_matrix,
    hint_loss,
    irg,
    kdsvd,
    neuron_selectivity_transfer,
    probabilistic_knowledge_transfer,
    rkd_angle,
    rkd_distance,
    similarity_preserving,
    variational_information,
)


def approx(x, rel=1e-5, abs=1e-7):
    return pytest.approx(x, rel=rel, abs=abs)


def rotation(dim: int, seed: int = 0) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=torch.Generator().manual_seed(seed),
                                       dtype=torch.float64))
    return q


# ---------------------------------------------------------------- feature losses

def test_hint_loss_by_hand_and_shape_check():
    s = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    t = torch.tensor([[0.0, 2.0], [3.0, 6.0]])
    assert float(hint_loss(s, t)) == approx((1 + 0 + 0 + 4) / 4)
    with pytest.raises(ValueError, match=r"student \(2, 2\), teacher \(2, 3\)"):
        hint_loss(s, torch.zeros(2, 3))


def test_similarity_preserving_by_hand_and_row_normalization():
    s = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # G = I, rows already unit
    t = torch.tensor([[1.0, 1.0], [1.0, 1.0]])  # G = 2·1, rows -> 1/√2
    # ‖I − 1/√2‖² = 2(1 − 1/√2)² + 2·½ = 4 − 2√2, over N² = 4
    assert float(similarity_preserving(s, t)) == approx(1 - math.sqrt(2) / 2)
    # row normalization: a global rescale of either network's features changes nothing
    assert float(similarity_preserving(3 * s, 0.5 * t)) == approx(1 - math.sqrt(2) / 2)
    # sizes may differ (maps vs vectors), zero on identical features
    x = torch.randn(3, 2, 2, 2)
    assert float(similarity_preserving(x, x.flatten(1) * 4)) == approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="as many student as teacher samples"):
        similarity_preserving(torch.ones(2, 3), torch.ones(3, 3))


def test_pkt_by_hand():
    s = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # cos = I: K = [[1, ½], [½, 1]] -> rows [⅔, ⅓]
    t = torch.tensor([[1.0, 0.0], [2.0, 0.0]])  # cos = 1: rows [½, ½]
    # per row: ½ log(½/⅔) + ½ log(½/⅓) = ½ log(9/8); two rows, mean over 4 pairs
    assert float(probabilistic_knowledge_transfer(s, t)) == approx(math.log(9 / 8) / 4, rel=1e-4)
    assert float(probabilistic_knowledge_transfer(t, t * 5)) == approx(0.0, abs=1e-6)


def test_nst_by_hand_and_spatial_check():
    s = torch.tensor([[[[1.0, 0.0]], [[0.0, 2.0]]]])  # 2 channels -> e1, e2 over 2 positions
    t = torch.tensor([[[[3.0, 3.0]]]])  # 1 channel -> (1, 1)/√2
    # k(s,s) = mean [[1,0],[0,1]] = ½; k(t,t) = 1; k(s,t) = mean (1/√2)² = ½ -> ½ + 1 − 1
    assert float(neuron_selectivity_transfer(s, t)) == approx(0.5)
    assert float(neuron_selectivity_transfer(s, s * 3)) == approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="same spatial size"):
        neuron_selectivity_transfer(s, torch.ones(1, 1, 2, 2))


def test_factor_transfer_by_hand():
    s = torch.tensor([[3.0, 4.0], [1.0, 0.0]])  # -> (.6, .8), (1, 0)
    t = torch.tensor([[4.0, 3.0], [0.0, 2.0]])  # -> (.8, .6), (0, 1)
    # L1 per sample: .2 + .2 = .4 and 1 + 1 = 2; mean over 2 samples x 2 elements: 0.6
    assert float(factor_transfer(s, t)) == approx(0.6)
    with pytest.raises(ValueError, match="equal shapes"):
        factor_transfer(s, torch.ones(2, 3))


def test_activation_boundary_by_hand():
    s = torch.tensor([[0.5, -2.0, 2.0, -0.5, 0.3]])
    t = torch.tensor([[-1.0, -1.0, 1.0, 1.0, 0.0]])
    # off & s > −1: (0.5+1)² = 2.25; off & s ≤ −1: 0; on & s > 1: 0; on & s ≤ 1: (−0.5−1)² = 2.25;
    # t = 0 counts as off: (0.3+1)² = 1.69; mean over 5 elements
    assert float(activation_boundary(s, t)) == approx((2.25 + 2.25 + 1.69) / 5)
    # margin 0.25: (0.5+.25)², 0, 0, (−.5−.25)², (.3+.25)²
    assert float(activation_boundary(s, t, margin=0.25)) == approx((0.5625 * 2 + 0.3025) / 5)


def test_variational_information_by_hand():
    # softplus(log(e − 1)) = 1, softplus(log(e² − 1)) = 2: σ² = (1, 2) with eps = 0
    log_scale = torch.tensor([math.log(math.e - 1), math.log(math.e ** 2 - 1)])
    mean, t = torch.zeros(1, 2, 1, 1), torch.tensor([1.0, 2.0]).view(1, 2, 1, 1)
    # ½(log 1 + 1/1) = ½ and ½(log 2 + 4/2) = ½ log 2 + 1, mean over 2 elements
    expected = (0.5 + 0.5 * math.log(2) + 1) / 2
    assert float(variational_information(mean, t, log_scale, eps=0.0)) == approx(expected)
    with pytest.raises(ValueError, match="one entry per channel"):
        variational_information(mean, t, torch.zeros(3))


def _as_map(x: torch.Tensor) -> torch.Tensor:
    """(HW, C) matrix of one sample -> (1, C, 1, HW) feature map."""
    return x.t().reshape(1, x.shape[1], 1, x.shape[0])


def test_kdsvd_by_hand_sign_alignment_and_weights():
    s = _as_map(torch.tensor([[2.0, 0.0], [0.0, 1.0]]))  # top right vector ±e1
    t = _as_map(torch.tensor([[1.0, 1.0], [1.0, 1.0]]))  # top right vector ±(1, 1)/√2
    # aligned: ‖e1 − (1, 1)/√2‖² = (1 − 1/√2)² + ½ = 2 − √2
    assert float(kdsvd(s, t)) == approx(2 - math.sqrt(2))
    assert float(kdsvd(s, -t)) == approx(2 - math.sqrt(2))  # SVD signs don't matter
    assert float(kdsvd(-t, t)) == approx(0.0, abs=1e-6)
    # k = 2: teacher diag(1, 3) orders (e2, e1), student diag(2, 1) orders (e1, e2):
    # each pair is orthogonal, ‖·‖² = 2, weights (3, 1)/√10 squared sum to 1 -> 2
    t2 = _as_map(torch.diag(torch.tensor([1.0, 3.0])))
    assert float(kdsvd(s, t2, k=2)) == approx(2.0)
    same_order = _as_map(torch.diag(torch.tensor([1.0, 2.0])))
    assert float(kdsvd(same_order, t2, k=2)) == approx(0.0, abs=1e-6)


def test_kdsvd_left_side_checks_and_degenerate_gradient():
    x = torch.randn(2, 3, 2, 2)
    assert float(kdsvd(x, x * 2, side="left")) == approx(0.0, abs=1e-5)
    with pytest.raises(ValueError, match="use a projection"):
        kdsvd(x, torch.randn(2, 4, 2, 2))
    kdsvd(x, torch.randn(2, 4, 2, 2), side="left")  # channel-agnostic
    with pytest.raises(ValueError, match="k must be in"):
        kdsvd(x, x, k=4)
    # rank 1 (repeated zero singular values): SVD's own backward is not finite here
    s = torch.zeros(2, 3, 2, 2)
    s[:, 0] = torch.randn(2, 2, 2)
    s.requires_grad_(True)
    kdsvd(s, torch.randn(2, 3, 2, 2), k=2).backward()
    assert torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0


def test_kdsvd_gradient_descends():
    torch.manual_seed(0)
    s = torch.randn(2, 3, 2, 2, requires_grad=True)
    t = torch.randn(2, 3, 2, 2)
    opt = torch.optim.Adam([s], lr=0.05)
    first = kdsvd(s, t, k=2).item()
    for _ in range(40):
        opt.zero_grad()
        kdsvd(s, t, k=2).backward()
        opt.step()
    assert kdsvd(s, t, k=2).item() < 0.5 * first


# ---------------------------------------------------------------- relation losses

def test_rkd_distance_by_hand_and_teacher_scale():
    s = torch.tensor([[0.0], [1.0], [3.0]])  # distances 1, 3, 2 -> mean 2 -> .5, 1.5, 1
    t = torch.tensor([[0.0], [1.0], [2.0]])  # distances 1, 2, 1 -> mean 4/3 -> .75, 1.5, .75
    # Huber ½x² of (−.25, 0, .25) averaged over the pairs
    expected = (0.5 * 0.0625 * 2) / 3
    assert float(rkd_distance(s, t)) == approx(expected, rel=1e-4)
    assert float(rkd_distance(s, 7 * t)) == approx(expected, rel=1e-4)
    with pytest.raises(ValueError, match="at least 2 samples"):
        rkd_distance(s[:1], t[:1])


def test_rkd_angle_by_hand():
    s = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # cosines 0, 1/√2, 1/√2
    t = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2]])  # equilateral: ½
    # 12 triplets with i ≠ j, k ≠ j: the 6 with i = k agree (cos 1); the other 6 are each
    # vertex angle twice: Huber ½x² of (−½, 1/√2 − ½, 1/√2 − ½), twice each
    expected = (0.25 + 2 * (1 / math.sqrt(2) - 0.5) ** 2) / 12
    assert float(rkd_angle(s, t)) == approx(expected, rel=1e-4)


def test_rkd_rotation_translation_scale_invariance():
    g = torch.Generator().manual_seed(1)
    s = torch.randn(6, 4, generator=g, dtype=torch.float64)
    t = torch.randn(6, 4, generator=g, dtype=torch.float64)
    moved = 3 * s @ rotation(4) + 1.5
    for loss in (rkd_distance, rkd_angle):
        assert float(loss(moved, t)) == approx(float(loss(s, t)), rel=1e-6)
        assert float(loss(moved, s)) == approx(0.0, abs=1e-8)


def test_fsp_matrix_by_hand_and_pooling():
    a = torch.tensor([[[[1.0, 2.0]], [[0.0, 1.0]]]])  # 2 channels over 2 positions
    b = torch.tensor([[[[3.0, 1.0]]]])
    # G = [(1·3 + 2·1)/2, (0·3 + 1·1)/2]
    torch.testing.assert_close(fsp_matrix(a, b), torch.tensor([[[2.5], [0.5]]]))
    big = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])  # pooled to 1x1: 2.5
    torch.testing.assert_close(fsp_matrix(big, torch.full((1, 1, 1, 1), 2.0)),
                               torch.tensor([[[5.0]]]))


def test_fsp_loss_by_hand_and_checks():
    a = torch.tensor([[[[1.0, 2.0]], [[0.0, 1.0]]]])
    b_s = torch.tensor([[[[3.0, 1.0]]]])  # G_S = [2.5, 0.5]
    b_t = torch.tensor([[[[1.0, 1.0]]]])  # G_T = [1.5, 0.5]
    assert float(fsp_loss([a, b_s], [a, b_t])) == approx((1.0 + 0.0) / 2)
    # three maps: pairs (0, 1) and (1, 2) summed; the second pair (b, b) gives 9 vs 1
    assert float(fsp_loss([a, b_s, b_s], [a, b_t, b_t])) == approx(0.5 + (5.0 - 1.0) ** 2)
    with pytest.raises(ValueError, match="at least 2"):
        fsp_loss([a], [a])
    with pytest.raises(ValueError, match="use a projection"):
        fsp_loss([a, b_s], [a, torch.ones(1, 2, 1, 2)])
    with pytest.raises(ValueError, match="as many"):
        fsp_loss([a, b_s], [a])


def test_irg_vertex_and_edge_by_hand():
    s = torch.tensor([[0.0], [1.0], [3.0]])  # squared distances 1, 9, 4 -> /9
    t = torch.tensor([[0.0], [1.0], [2.0]])  # squared distances 1, 4, 1 -> /4
    # edge differences 1/9 − 1/4 = −5/36 and 4/9 − 1/4 = 7/36, twice each, over 9 entries
    edge = 2 * (25 + 49) / 36 ** 2 / 9
    logits_s = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    vertex = 2 / 6  # MSE against zeros
    loss = irg([s], [t], logits_s, torch.zeros(3, 2), weights=(1.0, 2.0, 3.0))
    assert float(loss) == approx(vertex + 2 * edge)


def test_irg_transformation_by_hand_and_pooling():
    # N = 2: the max-normalized edge matrix is always [[0, 1], [1, 0]], so only the
    # transformation term remains. Student per-sample squared moves 4, 0 -> 1, 0;
    # teacher 1, 4 -> .25, 1: MSE ((.75)² + 1²)/2
    s = [torch.tensor([[0.0], [1.0]]), torch.tensor([[2.0], [1.0]])]
    t = [torch.tensor([[0.0], [1.0]]), torch.tensor([[1.0], [3.0]])]
    logits = torch.zeros(2, 3)
    assert float(irg(s, t, logits, logits)) == approx((0.75 ** 2 + 1) / 2)
    # a wider later layer is pooled in groups: (1, 1, 2, 2) -> (1, 2), like the teacher's
    s = [torch.tensor([[1.0, 2.0], [0.0, 0.0]]),
         torch.tensor([[1.0, 1.0, 2.0, 2.0], [0.0, 0.0, 0.0, 2.0]])]
    t = [s[0], torch.tensor([[1.0, 2.0], [0.0, 1.0]])]
    assert float(irg(s, t, logits, logits)) == approx(0.0, abs=1e-7)
    # maps next to vectors are globally pooled
    maps = [torch.randn(2, 3, 2, 2), torch.randn(2, 5)]
    assert float(irg(maps, maps, logits, logits)) == approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="logits of equal shape"):
        irg(s, t, logits, torch.zeros(2, 4))


def test_crd_nce_by_hand():
    # K = 2 noise pairs, M = 4: K/M = ½. log(½/1) + log(½/1) + log(½/2) = −4 log 2
    loss = crd_nce(torch.tensor([0.5]), torch.tensor([[0.5, 1.5]]), n_data=4)
    assert float(loss) == approx(4 * math.log(2), rel=1e-5)
    with pytest.raises(ValueError, match=r"\(N,\) and negative scores \(N, K\)"):
        crd_nce(torch.ones(2), torch.ones(3, 2), n_data=4)


def test_zero_when_student_equals_teacher():
    x = torch.randn(3, 2, 2, 2)
    for loss in (hint_loss, similarity_preserving, probabilistic_knowledge_transfer,
                 neuron_selectivity_transfer, factor_transfer, kdsvd, rkd_distance, rkd_angle):
        assert float(loss(x, x)) == approx(0.0, abs=1e-5), loss.__name__
    assert float(fsp_loss([x, x], [x, x])) == 0.0
    assert float(irg([x, x.flatten(1)], [x, x.flatten(1)], x.flatten(1), x.flatten(1))) == 0.0


def test_gradients_reach_the_student_only():
    torch.manual_seed(0)
    t = torch.randn(4, 3, 2, 2)
    cases = {
        "hint": lambda s: hint_loss(s, t),
        "sp": lambda s: similarity_preserving(s, t),
        "pkt": lambda s: probabilistic_knowledge_transfer(s, t),
        "nst": lambda s: neuron_selectivity_transfer(s, t),
        "ft": lambda s: factor_transfer(s, t),
        "ab": lambda s: activation_boundary(s, t),
        "vid": lambda s: variational_information(s, t, torch.zeros(3)),
        "kdsvd": lambda s: kdsvd(s, t),
        "rkd_d": lambda s: rkd_distance(s, t),
        "rkd_a": lambda s: rkd_angle(s, t),
        "fsp": lambda s: fsp_loss([s, s.pow(2)], [t, t.pow(2)]),
        "irg": lambda s: irg([s, s.flatten(1)], [t, t.flatten(1)], s.flatten(1), t.flatten(1)),
    }
    for name, loss in cases.items():
        s = torch.randn(4, 3, 2, 2, requires_grad=True)
        loss(s).backward()
        assert s.grad is not None and torch.isfinite(s.grad).all(), name
        assert s.grad.abs().sum() > 0, name
    log_scale = torch.zeros(3, requires_grad=True)
    variational_information(torch.randn(4, 3, 2, 2), t, log_scale).backward()
    assert log_scale.grad.abs().sum() > 0


# ---------------------------------------------------------------- CRD module

def test_crd_first_call_uses_in_batch_negatives():
    torch.manual_seed(0)
    crd = ContrastiveRepresentation(6, 10, embed_dim=4, negatives=16, temperature=0.5)
    f_s, f_t = torch.randn(5, 6), torch.randn(5, 10)
    s = F.normalize(crd.embed_s(f_s), dim=1)
    t = F.normalize(crd.embed_t(f_t), dim=1)
    logits = t @ s.t() / 0.5
    target = torch.arange(5)
    expected = F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)
    torch.testing.assert_close(crd(f_s, f_t), expected)
    assert int(crd.queue_filled) == 5 and int(crd.queue_ptr) == 5


def test_crd_loss_and_gradients():
    torch.manual_seed(0)
    crd = ContrastiveRepresentation(6, 10, embed_dim=4, negatives=8)
    crd(torch.randn(8, 6), torch.randn(8, 10))  # fill the queue
    f_s = torch.randn(3, 6, requires_grad=True)
    loss = crd(f_s, torch.randn(3, 10))
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert f_s.grad.abs().sum() > 0
    assert crd.embed_s.weight.grad.abs().sum() > 0 and crd.embed_t.weight.grad.abs().sum() > 0


def test_crd_queue_fills_wraps_and_survives_state_dict():
    torch.manual_seed(0)
    crd = ContrastiveRepresentation(6, 10, embed_dim=4, negatives=5, momentum=0.0)
    batches = [(torch.randn(3, 6), torch.randn(3, 10)) for _ in range(2)]
    crd(*batches[0])
    assert (int(crd.queue_filled), int(crd.queue_ptr)) == (3, 3)
    crd(*batches[1])  # 3 + 3 > 5: wraps, the last sample lands in slot 0
    assert (int(crd.queue_filled), int(crd.queue_ptr)) == (5, 1)
    keys = F.normalize(crd.embed_s(batches[1][0]), dim=1).detach()  # momentum 0: current heads
    torch.testing.assert_close(crd.queue_s[[3, 4, 0]], keys)
    big = (torch.randn(7, 6), torch.randn(7, 10))  # larger than the queue: its last 5 stay
    crd(*big)
    assert (int(crd.queue_filled), int(crd.queue_ptr)) == (5, 1)
    keys = F.normalize(crd.embed_t(big[1][-5:]), dim=1).detach()
    torch.testing.assert_close(crd.queue_t[[1, 2, 3, 4, 0]], keys)

    copy = ContrastiveRepresentation(6, 10, embed_dim=4, negatives=5, momentum=0.0)
    copy.load_state_dict(crd.state_dict())
    torch.testing.assert_close(copy.queue_s, crd.queue_s)
    assert int(copy.queue_ptr) == 1 and int(copy.queue_filled) == 5
    crd.eval(), copy.eval()
    probe = (torch.randn(2, 6), torch.randn(2, 10))
    torch.testing.assert_close(copy(*probe), crd(*probe))
    assert int(crd.queue_ptr) == 1  # eval mode leaves the queue alone


def test_crd_key_heads_follow_with_momentum():
    crd = ContrastiveRepresentation(2, 2, embed_dim=2, negatives=4, momentum=0.5)
    old = crd.key_weight_s.clone()
    with torch.no_grad():
        crd.embed_s.weight.add_(1.0)
    crd(torch.randn(2, 2), torch.randn(2, 2))
    torch.testing.assert_close(crd.key_weight_s, old + 0.5)


def test_crd_adam_lowers_the_loss():
    torch.manual_seed(0)
    crd = ContrastiveRepresentation(6, 10, embed_dim=8, negatives=16)
    crd(torch.randn(16, 6), torch.randn(16, 10))  # negatives from other data
    crd.eval()  # keep the queue fixed
    f_s = torch.randn(8, 6, requires_grad=True)
    f_t = torch.randn(8, 10)
    opt = torch.optim.Adam([f_s, *crd.parameters()], lr=0.05)
    first = crd(f_s, f_t).item()
    for _ in range(15):
        opt.zero_grad()
        crd(f_s, f_t).backward()
        opt.step()
    assert crd(f_s, f_t).item() < 0.5 * first


def test_crd_argument_checks():
    with pytest.raises(ValueError, match="temperature"):
        ContrastiveRepresentation(2, 2, temperature=0.0)
    crd = ContrastiveRepresentation(2, 3, embed_dim=2, negatives=4)
    with pytest.raises(ValueError, match="features of size 2"):
        crd(torch.randn(2, 3), torch.randn(2, 3))

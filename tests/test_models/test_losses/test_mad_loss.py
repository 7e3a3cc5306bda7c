"""MarginAwareDistillLoss against hand computations."""
import math

import pytest
import torch
import torch.nn.functional as F

from mm_incomplete.models.losses import MarginAwareDistillLoss
from mm_incomplete.models.losses.margin_aware_distill_loss import \
    teacher_entropy_weights


def _entropy(p):
    return -sum(x * math.log(x) for x in p)


def test_image_samples_hand_computation():
    # 3 images, 2-d features; one split: G = rownorm(F F^T)
    fs = torch.tensor([[1., 0.], [0., 1.], [1., 1.]])
    ft = torch.tensor([[1., 0.], [1., 0.], [0., 1.]])
    logits_t = torch.tensor([[0., 0.], [math.log(3.), 0.], [10., 0.]])

    def rownorm(rows):
        return [[v / math.sqrt(sum(x * x for x in r)) for v in r]
                for r in rows]

    def gram(f):
        return [[sum(a * b for a, b in zip(fi, fj)) for fj in f] for fi in f]

    gs = rownorm(gram(fs.tolist()))
    gt = rownorm(gram(ft.tolist()))
    per = [sum((gs[i][j] - gt[i][j]) ** 2 for j in range(3))
           for i in range(3)]
    ent = [_entropy([0.5, 0.5]), _entropy([0.75, 0.25]),
           _entropy([1 / (1 + math.exp(-10)), 1 - 1 / (1 + math.exp(-10))])]
    w = [e / sum(ent) for e in ent]
    expected = sum(wi * li for wi, li in zip(w, per))

    loss = MarginAwareDistillLoss(samples='image', num_splits=1,
                                  loss_weight=2.0)
    assert loss(fs, ft, logits_t).item() == pytest.approx(2 * expected,
                                                          rel=1e-5)
    # the weights: uncertain samples (near the boundary) weigh most
    weights = teacher_entropy_weights(logits_t)
    assert weights.tolist() == pytest.approx(w, rel=1e-5, abs=1e-6)
    assert weights[0] > weights[1] > weights[2]


def test_pixel_samples_two_splits_hand_computation():
    # B=1, C=2, 2x2 map -> N=4 pixel samples, split into {0,1} and {2,3};
    # each half's similarities are row-normalised on their own
    fs = torch.tensor([[[[1., 2.], [0., 1.]], [[0., 1.], [1., 1.]]]])
    ft = torch.tensor([[[[2., 0.], [1., 1.]], [[1., 1.], [0., 3.]]]])
    logits_t = torch.tensor([[[[0., 1.], [2., 0.]], [[0., 0.], [0., 3.]],
                              [[1., 0.], [0., 0.]]]])  # K=3
    f_s = fs[0].flatten(1).t()  # (4, 2) pixels in row-major order
    f_t = ft[0].flatten(1).t()
    per = torch.zeros(4)
    for half in ([0, 1], [2, 3]):
        g_s = f_s @ f_s[half].t()
        g_t = f_t @ f_t[half].t()
        g_s = g_s / g_s.norm(dim=1, keepdim=True)
        g_t = g_t / g_t.norm(dim=1, keepdim=True)
        per += ((g_s - g_t) ** 2).sum(1)
    p = logits_t[0].flatten(1).t().softmax(1)
    ent = -(p * p.log()).sum(1)
    expected = (ent / ent.sum() * per).sum()

    loss = MarginAwareDistillLoss(samples='pixel', pool_size=(30, 40))
    assert loss(fs, ft, logits_t).item() == pytest.approx(expected.item(),
                                                          rel=1e-5)


def test_pooling_to_at_most_30x40_and_logits_pooled_to_features():
    torch.manual_seed(0)
    fs, ft = torch.randn(2, 4, 60, 80), torch.randn(2, 4, 60, 80)
    logits = torch.randn(2, 3, 120, 160)
    loss = MarginAwareDistillLoss(pool_size=(30, 40))
    ref = MarginAwareDistillLoss(pool_size=None)
    pooled = (F.adaptive_avg_pool2d(fs, (30, 40)),
              F.adaptive_avg_pool2d(ft, (30, 40)),
              F.adaptive_avg_pool2d(logits, (30, 40)))
    assert loss(fs, ft, logits).item() == pytest.approx(
        ref(*pooled).item(), rel=1e-5)
    # a small map is not pooled
    small = torch.randn(1, 4, 5, 6)
    assert loss(small, small, torch.randn(1, 3, 5, 6)).item() == \
        pytest.approx(0.0, abs=1e-6)


def test_gradient_reaches_student_only():
    fs = torch.randn(2, 4, 3, 3, requires_grad=True)
    ft = torch.randn(2, 4, 3, 3, requires_grad=True)
    MarginAwareDistillLoss()(fs, ft, torch.randn(2, 5, 3, 3)).backward()
    assert fs.grad is not None and fs.grad.abs().sum() > 0
    assert ft.grad is None


def test_bad_inputs():
    with pytest.raises(ValueError, match='samples'):
        MarginAwareDistillLoss(samples='patch')
    loss = MarginAwareDistillLoss()
    with pytest.raises(ValueError, match='differ in size'):
        loss(torch.randn(1, 4, 3, 3), torch.randn(1, 4, 2, 2),
             torch.randn(1, 2, 3, 3))
    with pytest.raises(ValueError, match=r"\(B, K\) teacher logits"):
        MarginAwareDistillLoss(samples='image')(
            torch.randn(2, 4), torch.randn(2, 4), torch.randn(2, 3, 1, 1))


@pytest.mark.parametrize('num_splits', [1, 2, 3])
def test_factored_form_equals_the_definition(num_splits):
    from mm_incomplete.models.losses.margin_aware_distill_loss import (
        similarity_relation_loss, similarity_relation_loss_factored)
    torch.manual_seed(num_splits)
    fs = torch.randn(37, 6, dtype=torch.float64, requires_grad=True)
    ft = torch.randn(37, 4, dtype=torch.float64)
    ref = similarity_relation_loss(fs, ft, num_splits)
    fast = similarity_relation_loss_factored(fs, ft, num_splits)
    assert torch.allclose(fast, ref, rtol=1e-9, atol=1e-12)
    g_ref, = torch.autograd.grad(ref.sum(), fs)
    g_fast, = torch.autograd.grad(fast.sum(), fs)
    assert torch.allclose(g_fast, g_ref, rtol=1e-7, atol=1e-10)
    # a zero sample (zero similarity row) is handled as F.normalize does
    fs0 = fs.detach().clone()
    fs0[0] = 0
    assert torch.allclose(similarity_relation_loss_factored(fs0, ft, 2),
                          similarity_relation_loss(fs0, ft, 2), atol=1e-12)


def test_relation_loss_picks_either_equal_computation():
    from mm_incomplete.models.losses.margin_aware_distill_loss import (
        relation_loss, similarity_relation_loss,
        similarity_relation_loss_factored)
    torch.manual_seed(5)
    # few samples of many dimensions (explicit) and many of few (factored)
    for n, d in ((4, 50), (60, 3)):
        fs, ft = torch.randn(n, d), torch.randn(n, d + 1)
        ref = similarity_relation_loss(fs, ft, 1)
        torch.testing.assert_close(relation_loss(fs, ft, 1), ref)
        torch.testing.assert_close(
            similarity_relation_loss_factored(fs, ft, 1), ref, rtol=1e-4,
            atol=1e-5)


def test_pair_mask_restricts_the_pairs_of_each_row():
    from mm_incomplete.models.losses.margin_aware_distill_loss import \
        similarity_relation_loss
    torch.manual_seed(6)
    fs, ft = torch.randn(5, 3), torch.randn(5, 3)
    full = similarity_relation_loss(fs, ft, 2)
    ones = torch.ones(5, 5, dtype=torch.bool)
    torch.testing.assert_close(
        similarity_relation_loss(fs, ft, 2, pair_mask=ones), full)
    diag = torch.eye(5, dtype=torch.bool)
    g_s = F.normalize(fs @ fs.t(), dim=1)
    g_t = F.normalize(ft @ ft.t(), dim=1)
    torch.testing.assert_close(
        similarity_relation_loss(fs, ft, 1, pair_mask=diag),
        (g_s.diagonal() - g_t.diagonal()) ** 2)
    with pytest.raises(ValueError, match='pair_mask'):
        similarity_relation_loss(fs, ft, 1, pair_mask=diag[:4])


def _official_split_mad(fs, ft, logits_t):
    """MAD as the paper / official code define it, written independently:
    reference samples split at N // 2, each half's similarity rows
    normalised on their own, squared differences summed, entropy-weighted."""
    n = fs.shape[0]
    halves = [list(range(0, n // 2)), list(range(n // 2, n))]
    per = []
    for i in range(n):
        total = 0.0
        for half in halves:
            if not half:
                continue
            a = [float(fs[i] @ fs[j]) for j in half]
            b = [float(ft[i] @ ft[j]) for j in half]
            na = max(math.sqrt(sum(x * x for x in a)), 1e-12)
            nb = max(math.sqrt(sum(x * x for x in b)), 1e-12)
            total += sum((x / na - y / nb) ** 2 for x, y in zip(a, b))
        per.append(total)
    ent = []
    for row in logits_t.tolist():
        z = [math.exp(v - max(row)) for v in row]
        p = [v / sum(z) for v in z]
        ent.append(-sum(q * math.log(q) for q in p))
    return sum(e / sum(ent) * li for e, li in zip(ent, per))


@pytest.mark.parametrize('n', [1, 2, 5, 7, 8])
def test_split_at_n_floor_half_matches_official_computation(n):
    torch.manual_seed(n)
    fs = torch.randn(n, 3, dtype=torch.float64)
    ft = torch.randn(n, 4, dtype=torch.float64)
    logits_t = torch.randn(n, 5, dtype=torch.float64)
    expected = _official_split_mad(fs, ft, logits_t)
    loss = MarginAwareDistillLoss(samples='image', num_splits=2)
    assert loss(fs, ft, logits_t).item() == pytest.approx(expected,
                                                          rel=1e-6)


def test_odd_pixel_count_split_matches_official_computation():
    # B=1, 3x3 map: N = 9 pixels, halves of 4 and 5 pixels
    torch.manual_seed(3)
    fs, ft = torch.randn(1, 4, 3, 3), torch.randn(1, 4, 3, 3)
    logits = torch.randn(1, 6, 3, 3)
    rows = [t[0].flatten(1).t().double() for t in (fs, ft, logits)]
    expected = _official_split_mad(*rows)
    loss = MarginAwareDistillLoss(samples='pixel', pool_size=None)
    assert loss(fs, ft, logits).item() == pytest.approx(expected, rel=1e-5)


def test_sample_splits_bounds():
    from mm_incomplete.models.losses.margin_aware_distill_loss import \
        sample_splits
    assert [c.tolist() for c in sample_splits(7, 2)] == \
        [[0, 1, 2], [3, 4, 5, 6]]
    assert [c.tolist() for c in sample_splits(1, 2)] == [[0]]
    assert [len(c) for c in sample_splits(10, 3)] == [3, 3, 4]

"""DiscrepancyAwareDistillLoss (MMH's DAD) against the similarity-preserving
loss computed independently."""
import pytest
import torch
import torch.nn.functional as F

from mm_incomplete.models.losses import DiscrepancyAwareDistillLoss
from mm_incomplete.models.losses.discrepancy_aware_distill_loss import \
    teacher_knn_mask


def _sp(f_s, f_t):
    """Similarity-preserving loss (Tung & Mori) on (N, D) matrices."""
    g_s = f_s @ f_s.t()
    g_t = f_t @ f_t.t()
    g_s = g_s / g_s.norm(dim=1, keepdim=True)
    g_t = g_t / g_t.norm(dim=1, keepdim=True)
    return ((g_s - g_t) ** 2).mean()


def test_image_samples_equal_the_sp_loss():
    torch.manual_seed(0)
    f_s, f_t = torch.randn(6, 4, 3, 3), torch.randn(6, 8, 3, 3)
    dad = DiscrepancyAwareDistillLoss(samples='image', loss_weight=100.0)
    expected = 100.0 * _sp(f_s.flatten(1), f_t.flatten(1))
    assert dad(f_s, f_t).item() == pytest.approx(expected.item(), rel=1e-5)


def test_pixel_samples_equal_the_sp_loss_on_the_pooled_pixels():
    torch.manual_seed(1)
    f_s, f_t = torch.randn(2, 5, 12, 16), torch.randn(2, 3, 12, 16)
    dad = DiscrepancyAwareDistillLoss(samples='pixel', pool_size=(6, 8),
                                      loss_weight=1.0)
    p_s = F.adaptive_avg_pool2d(f_s, (6, 8))
    p_t = F.adaptive_avg_pool2d(f_t, (6, 8))
    # (N, C) with N = 2 * 6 * 8 pixels
    rows_s = p_s.permute(0, 2, 3, 1).reshape(-1, 5)
    rows_t = p_t.permute(0, 2, 3, 1).reshape(-1, 3)
    expected = _sp(rows_s, rows_t)
    assert dad(f_s, f_t).item() == pytest.approx(expected.item(), rel=1e-4)


def test_knn_of_all_samples_is_the_global_loss_and_local_by_hand():
    torch.manual_seed(2)
    f_s, f_t = torch.randn(5, 3), torch.randn(5, 4)
    full = DiscrepancyAwareDistillLoss(samples='image', loss_weight=1.0)
    knn5 = DiscrepancyAwareDistillLoss(samples='image', knn=5,
                                       loss_weight=1.0)
    assert knn5(f_s, f_t).item() == pytest.approx(full(f_s, f_t).item(),
                                                  rel=1e-5)
    # k = 2: each sample and its nearest other sample in the teacher space
    dist = torch.cdist(f_t, f_t) + torch.eye(5) * 1e9
    nearest = dist.argmin(1)
    g_s = F.normalize(f_s @ f_s.t(), dim=1)
    g_t = F.normalize(f_t @ f_t.t(), dim=1)
    total = 0.0
    for i in range(5):
        for j in (i, int(nearest[i])):
            total += (g_s[i, j] - g_t[i, j]) ** 2
    knn2 = DiscrepancyAwareDistillLoss(samples='image', knn=2,
                                       loss_weight=1.0)
    assert knn2(f_s, f_t).item() == pytest.approx(total.item() / 10,
                                                  rel=1e-5)


def test_knn_mask_has_self_and_k_per_row():
    torch.manual_seed(3)
    feat = torch.randn(7, 4)
    mask = teacher_knn_mask(feat, 3)
    assert mask.sum(1).tolist() == [3] * 7
    assert mask.diagonal().all()
    with pytest.raises(ValueError, match='knn'):
        teacher_knn_mask(feat, 8)


def test_gradients_reach_the_student_only():
    torch.manual_seed(4)
    for knn in (None, 3):
        f_s = torch.randn(2, 4, 3, 3, requires_grad=True)
        f_t = torch.randn(2, 4, 3, 3, requires_grad=True)
        DiscrepancyAwareDistillLoss(samples='pixel', knn=knn)(f_s,
                                                              f_t).backward()
        assert f_s.grad.abs().sum() > 0
        assert f_t.grad is None


def test_options_and_shapes_are_checked():
    with pytest.raises(ValueError, match='samples'):
        DiscrepancyAwareDistillLoss(samples='region')
    with pytest.raises(ValueError, match='knn'):
        DiscrepancyAwareDistillLoss(knn=0)
    with pytest.raises(ValueError, match='batch and size'):
        DiscrepancyAwareDistillLoss(samples='pixel')(
            torch.randn(2, 4, 4, 4), torch.randn(2, 4, 8, 8))
    with pytest.raises(ValueError, match='teacher images'):
        DiscrepancyAwareDistillLoss(samples='image')(
            torch.randn(2, 4), torch.randn(3, 4))

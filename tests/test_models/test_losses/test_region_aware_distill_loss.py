"""RegionAwareDistillLoss (MMH's RAD) against hand computations."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mm_incomplete.models.losses import (LogitKLDistillLoss,
                                         RegionAwareDistillLoss)
from mm_incomplete.models.losses.region_aware_distill_loss import (
    RegionAttentionWeighting, pyramid_regions, region_kl,
    teacher_strength_weights)


def _cell_mean(x, rows, cols):
    return x[..., rows[0]:rows[1], cols[0]:cols[1]].mean(dim=(-2, -1))


def test_21_regions_and_their_order():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8)
    regions = pyramid_regions(x)
    assert regions.shape == (2, 3, 21)
    # 0-15: the 4 x 4 cells row-major (2 x 2 pixels each on an 8 x 8 map)
    for r in range(16):
        i, j = divmod(r, 4)
        torch.testing.assert_close(
            regions[..., r], _cell_mean(x, (2 * i, 2 * i + 2),
                                        (2 * j, 2 * j + 2)))
    # 16-19: the 2 x 2 quadrants row-major, 20: the whole map
    for r, (i, j) in zip(range(16, 20), [(0, 0), (0, 1), (1, 0), (1, 1)]):
        torch.testing.assert_close(
            regions[..., r], _cell_mean(x, (4 * i, 4 * i + 4),
                                        (4 * j, 4 * j + 4)))
    torch.testing.assert_close(regions[..., 20], x.mean(dim=(2, 3)))


def test_coarse_regions_come_from_the_4x4_grid_as_released():
    # on a 5 x 5 map adaptive 4 x 4 cells overlap; the 1 x 1 region is the
    # mean of the 16 cells, not of the 25 pixels
    x = torch.arange(25.).view(1, 1, 5, 5) ** 2
    regions = pyramid_regions(x)
    cells = F.adaptive_avg_pool2d(x, 4)
    assert regions[0, 0, 20].item() == pytest.approx(cells.mean().item())
    assert regions[0, 0, 20].item() != pytest.approx(x.mean().item())


def test_region_losses_equal_the_per_region_kl_loop():
    torch.manual_seed(1)
    z_s, z_t = torch.randn(4, 5, 21), torch.randn(4, 5, 21)
    tau = 2.0
    expected = torch.stack([
        F.kl_div(F.log_softmax(z_s[:, :, r] / tau, 1),
                 F.softmax(z_t[:, :, r] / tau, 1),
                 reduction='batchmean') * tau * tau for r in range(21)])
    torch.testing.assert_close(region_kl(z_s, z_t, tau), expected)
    # uniform weights: the mean of the 21 region losses
    rad = RegionAwareDistillLoss(tau=tau, loss_weight=0.4)
    maps_s, maps_t = torch.randn(4, 5, 8, 8), torch.randn(4, 5, 8, 8)
    losses = region_kl(pyramid_regions(maps_s), pyramid_regions(maps_t), tau)
    assert rad(maps_s, maps_t).item() == pytest.approx(
        0.4 * losses.mean().item(), rel=1e-5)


def test_only_the_1x1_region_is_plain_logit_kd_classification():
    torch.manual_seed(2)
    fc_s, fc_t = nn.Linear(6, 3), nn.Linear(6, 3)
    f_s, f_t = torch.randn(4, 6, 3, 5), torch.randn(4, 6, 3, 5)
    rad = RegionAwareDistillLoss(tau=2.0, grids=(1, ))
    kd = LogitKLDistillLoss(tau=2.0)
    expected = kd(fc_s(f_s.mean(dim=(2, 3))), fc_t(f_t.mean(dim=(2, 3))))
    assert rad.num_regions == 1
    assert rad(f_s, f_t, classifier_s=fc_s,
               classifier_t=fc_t).item() == pytest.approx(expected.item(),
                                                          rel=1e-5)


def test_only_the_1x1_region_is_plain_logit_kd_segmentation_logits():
    torch.manual_seed(3)
    z_s, z_t = torch.randn(2, 4, 16, 16), torch.randn(2, 4, 16, 16)
    rad = RegionAwareDistillLoss(tau=2.0, grids=(1, ))
    expected = LogitKLDistillLoss(tau=2.0)(z_s.mean(dim=(2, 3)),
                                           z_t.mean(dim=(2, 3)))
    assert rad(z_s, z_t).item() == pytest.approx(expected.item(), rel=1e-5)


def test_pooling_logits_equals_classifying_pooled_features():
    # the reason segmentation may pool the decode head's logits
    torch.manual_seed(4)
    conv = nn.Conv2d(6, 3, 1)
    fc = nn.Linear(6, 3)
    fc.weight.data.copy_(conv.weight.data.view(3, 6))
    fc.bias.data.copy_(conv.bias.data)
    f_s, f_t = torch.randn(2, 6, 8, 8), torch.randn(2, 6, 8, 8)
    rad = RegionAwareDistillLoss()
    assert rad(conv(f_s), conv(f_t)).item() == pytest.approx(
        rad(f_s, f_t, classifier_s=fc, classifier_t=fc).item(), rel=1e-5)


@pytest.mark.parametrize('weighting', ['uniform', 'attention', 'strength'])
def test_rad_alone_backpropagates_to_student_features_and_classifier(
        weighting):
    # the official face anti-spoofing code rebuilt the region losses with
    # torch.tensor(loss_list): no gradient ever reached the student
    torch.manual_seed(5)
    fc_s, fc_t = nn.Linear(8, 3), nn.Linear(8, 3)
    for p in fc_t.parameters():
        p.requires_grad_(False)
    f_s = torch.randn(2, 8, 4, 4, requires_grad=True)
    f_t = torch.randn(2, 8, 4, 4, requires_grad=True)
    rad = RegionAwareDistillLoss(weighting=weighting)
    rad(f_s, f_t, classifier_s=fc_s, classifier_t=fc_t).backward()
    assert f_s.grad is not None and f_s.grad.abs().sum() > 0
    assert fc_s.weight.grad.abs().sum() > 0
    assert f_t.grad is None  # the teacher gets nothing
    if weighting == 'attention':
        assert rad.attention.query.weight.grad.abs().sum() > 0
        assert rad.attention.key.weight.grad.abs().sum() > 0


def test_rad_alone_backpropagates_to_student_logits_segmentation():
    torch.manual_seed(6)
    z_s = torch.randn(2, 5, 16, 16, requires_grad=True)
    z_t = torch.randn(2, 5, 16, 16)
    RegionAwareDistillLoss(loss_weight=0.4)(z_s, z_t).backward()
    assert z_s.grad.abs().sum() > 0
    # every pixel is in some region: every logit receives gradient
    assert (z_s.grad.abs().sum(dim=1) > 0).all()


def test_attention_weights_are_the_released_self_attention():
    torch.manual_seed(7)
    att = RegionAttentionWeighting(21)
    losses = torch.rand(21)
    # the official SelfAttention(21, 21, 21)(_, l): q = Wq l, k = Wk l,
    # v = l, out = softmax(k^T q) v, loss = sum(out) / 21
    q = losses @ att.query.weight.t()
    k = losses @ att.key.weight.t()
    dist = torch.softmax(k[:, None] @ q[None, :], dim=-1)  # (21, 21)
    expected = (dist @ losses[:, None]).sum() / 21
    weights = att(losses)
    assert weights.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert (weights * losses).sum().item() == pytest.approx(
        expected.item(), rel=1e-5)


def test_strength_weights_are_a_softmax_of_teacher_mean_activation():
    torch.manual_seed(8)
    f_t = torch.rand(3, 4, 8, 8)
    f_t[:, :, :2, :2] += 5.0  # a strong top-left cell
    regions = pyramid_regions(f_t)
    weights = teacher_strength_weights(regions)
    expected = torch.softmax(regions.mean(dim=(0, 1)), dim=0)
    torch.testing.assert_close(weights, expected)
    assert int(weights.argmax()) == 0
    # with logit maps the strength comes from a teacher feature map
    rad = RegionAwareDistillLoss(weighting='strength')
    z_s, z_t = torch.randn(3, 5, 8, 8), torch.randn(3, 5, 8, 8)
    losses = region_kl(pyramid_regions(z_s), pyramid_regions(z_t), 2.0)
    assert rad(z_s, z_t, strength_map_t=f_t).item() == pytest.approx(
        (expected * losses).sum().item(), rel=1e-5)
    with pytest.raises(ValueError, match='strength_map_t'):
        rad(z_s, z_t)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match='smaller than the finest'):
        RegionAwareDistillLoss()(torch.randn(2, 3, 2, 2),
                                 torch.randn(2, 3, 2, 2))
    with pytest.raises(ValueError, match='finest first'):
        RegionAwareDistillLoss(grids=(1, 2))
    with pytest.raises(ValueError, match='divide the finest'):
        RegionAwareDistillLoss(grids=(4, 3))
    with pytest.raises(ValueError, match='weighting'):
        RegionAwareDistillLoss(weighting='learned')
    with pytest.raises(ValueError, match='both'):
        RegionAwareDistillLoss()(torch.randn(2, 3, 4, 4),
                                 torch.randn(2, 3, 4, 4),
                                 classifier_s=nn.Linear(3, 2))
    with pytest.raises(ValueError, match='differ'):
        RegionAwareDistillLoss()(torch.randn(2, 3, 4, 4),
                                 torch.randn(2, 3, 8, 8))


def test_rad_of_identical_maps_is_zero_and_positive_otherwise():
    z = torch.randn(2, 4, 8, 8)
    rad = RegionAwareDistillLoss()
    assert rad(z, z).item() == pytest.approx(0.0, abs=1e-6)
    assert rad(z, z.flip(-1)).item() > 0
    assert math.isfinite(rad(z * 100, -z * 100).item())

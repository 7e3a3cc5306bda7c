"""Tests of the masked squeeze-and-excitation fusion blocks."""
import pytest
import torch
from mmengine.registry import MODELS

from mm_incomplete.models.utils.fusion import (SqueezeExcitation,
                                               SqueezeExciteFusion,
                                               masked_combine)


def test_squeeze_excitation_matches_hand_computation():
    torch.manual_seed(0)
    se = SqueezeExcitation(16, reduction=4)
    x = torch.randn(2, 16, 5, 5)
    conv1, conv2 = se.excite[0], se.excite[2]
    pooled = x.mean((2, 3))                                   # (B, C)
    hidden = torch.relu(pooled @ conv1.weight[:, :, 0, 0].T + conv1.bias)
    gate = torch.sigmoid(hidden @ conv2.weight[:, :, 0, 0].T + conv2.bias)
    torch.testing.assert_close(se(x), x * gate[:, :, None, None])
    assert conv1.out_channels == 8  # 16 // 4 = 4 is raised to min_hidden=8


def test_masked_combine_mean_and_sum_by_hand():
    a, b = torch.full((3, 2, 1, 1), 2.), torch.full((3, 2, 1, 1), 6.)
    mask = torch.tensor([[True, True], [True, False], [False, True]])
    mean = masked_combine(dict(rgb=a, depth=b), mask, ('rgb', 'depth'))
    total = masked_combine(dict(rgb=a, depth=b), mask, ('rgb', 'depth'),
                           reduce='sum')
    assert mean[:, 0, 0, 0].tolist() == [4., 2., 6.]
    assert total[:, 0, 0, 0].tolist() == [8., 2., 6.]


def test_masked_combine_absent_branch_and_errors():
    a = torch.ones(2, 1, 1, 1)
    rgb_only = torch.tensor([[True, False], [True, False]])
    out = masked_combine(dict(rgb=a), rgb_only, ('rgb', 'depth'))
    assert out.flatten().tolist() == [1., 1.]
    with pytest.raises(ValueError, match="'depth' is present"):
        masked_combine(dict(rgb=a), torch.ones(2, 2, dtype=torch.bool),
                       ('rgb', 'depth'))
    with pytest.raises(ValueError, match=r'mask must be \(B, 2\)'):
        masked_combine(dict(rgb=a), torch.ones(2, 3, dtype=torch.bool),
                       ('rgb', 'depth'))
    with pytest.raises(ValueError, match="'mean' or 'sum'"):
        masked_combine(dict(rgb=a), rgb_only, ('rgb', 'depth'), 'max')


def test_fusion_block_masked_sample_gets_no_gradient():
    fusion = MODELS.build(dict(type='SqueezeExciteFusion',
                               modalities=('rgb', 'depth'), channels=8))
    assert isinstance(fusion, SqueezeExciteFusion)
    rgb = torch.randn(2, 8, 4, 4, requires_grad=True)
    depth = torch.randn(2, 8, 4, 4, requires_grad=True)
    mask = torch.tensor([[True, True], [True, False]])
    out = fusion(dict(rgb=rgb, depth=depth), mask)
    expected1 = fusion.recalibrate('rgb', rgb[1:])
    torch.testing.assert_close(out[1:], expected1)
    out.sum().backward()
    assert depth.grad[1].abs().sum() == 0
    assert depth.grad[0].abs().sum() > 0

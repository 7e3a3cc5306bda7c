"""Tests of the masked squeeze-and-excitation fusion blocks."""
import pytest
import torch
from mmengine.registry import MODELS

from mm_incomplete.models.utils.fusion import (BaseFusion, SqueezeExcitation,
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


# -- the BaseFusion interface -------------------------------------------
def test_fusion_takes_a_list_in_layout_order_or_a_dict():
    torch.manual_seed(0)
    fusion = SqueezeExciteFusion(['rgb', 'depth'], channels=8).eval()
    rgb, depth = torch.randn(2, 8, 3, 3), torch.randn(2, 8, 3, 3)
    mask = torch.tensor([[True, True], [False, True]])
    as_list = fusion([rgb, depth], mask)
    torch.testing.assert_close(as_list, fusion(dict(depth=depth, rgb=rgb),
                                               mask))
    expected = torch.stack([
        (fusion.recalibrate('rgb', rgb[:1]) +
         fusion.recalibrate('depth', depth[:1]))[0] / 2,
        fusion.recalibrate('depth', depth[1:])[0]])
    torch.testing.assert_close(as_list, expected)
    # None: a branch that did not run, which the mask drops everywhere
    depth_only = torch.tensor([[False, True], [False, True]])
    torch.testing.assert_close(
        fusion([None, depth], depth_only),
        fusion.recalibrate('depth', depth))


def test_fusion_checks_count_and_channels():
    fusion = SqueezeExciteFusion(['rgb', 'depth'], channels=8)
    mask = torch.ones(1, 2, dtype=torch.bool)
    x = torch.randn(1, 8, 2, 2)
    with pytest.raises(ValueError, match='got 1 branch features'):
        fusion([x], mask)
    with pytest.raises(ValueError, match=r"'depth' feature is \(1, 4, 2, 2\)"):
        fusion([x, torch.randn(1, 4, 2, 2)], mask)
    with pytest.raises(ValueError, match=r"unknown modalities \['ir'\]"):
        fusion(dict(rgb=x, ir=x), mask)
    with pytest.raises(ValueError, match='`channels`'):
        SqueezeExciteFusion(['rgb'], channels=0)


def test_a_new_fusion_block_only_writes_combine():
    @MODELS.register_module(force=True)
    class MaxOfPresent(BaseFusion):
        def combine(self, feats, mask):
            out = None
            for m, f in enumerate(feats):
                if f is None:
                    continue
                f = f.masked_fill(~mask[:, m].view(-1, 1, 1, 1), -1e9)
                out = f if out is None else torch.maximum(out, f)
            return out

    fusion = MODELS.build(dict(type='MaxOfPresent', modalities=['a', 'b'],
                               channels=1))
    a = torch.tensor([1., 5.]).view(2, 1, 1, 1)
    b = torch.tensor([3., 3.]).view(2, 1, 1, 1)
    mask = torch.tensor([[True, True], [False, True]])
    assert fusion([a, b], mask).flatten().tolist() == [3., 3.]
    with pytest.raises(NotImplementedError, match='combine'):
        BaseFusion(['a'], 1)([a], mask[:, :1])


def test_masked_combine_does_not_sync_when_every_branch_ran():
    a, b = torch.ones(2, 1, 1, 1), torch.ones(2, 1, 1, 1)
    mask = torch.tensor([[True, False], [True, False]])
    calls = []
    real_bool = torch.Tensor.__bool__

    def counting_bool(self):
        calls.append(1)
        return real_bool(self)

    torch.Tensor.__bool__ = counting_bool
    try:
        masked_combine([a, b], mask, ('rgb', 'depth'))
    finally:
        torch.Tensor.__bool__ = real_bool
    assert calls == []

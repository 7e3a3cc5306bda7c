"""Tests of EarlyFusionResNet: stacked input, masked channels zeroed."""
import pytest
import torch
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS

from mm_incomplete.models.backbones import EarlyFusionResNet


def small():
    torch.manual_seed(0)
    return EarlyFusionResNet(dict(rgb=3, depth=1), depth=18, base_channels=8,
                             stem_channels=8)


def test_shapes_and_registries():
    model = small()
    assert model.conv1.in_channels == 4
    assert [tuple(o.shape) for o in model(torch.rand(2, 4, 64, 64))] == [
        (2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 4, 4), (2, 64, 2, 2)]
    assert model.out_channels == [8, 16, 32, 64]
    assert model.encoder_is_mask_independent is False
    for registry in (MMSEG_MODELS, MMPRETRAIN_MODELS):
        assert registry.get('EarlyFusionResNet') is EarlyFusionResNet


def test_masked_channels_are_zeroed_and_get_no_gradient():
    model = small().eval()
    x = torch.randn(2, 4, 32, 32, requires_grad=True)
    mask = torch.tensor([[True, False], [False, True]])
    outs = model(x, mask)
    zeroed = x.detach().clone()
    zeroed[0, 3] = 0
    zeroed[1, :3] = 0
    for a, b in zip(outs, model(zeroed)):
        torch.testing.assert_close(a, b)
    sum(o.sum() for o in outs).backward()
    assert x.grad[0, 3].abs().sum() == 0 and x.grad[1, :3].abs().sum() == 0
    assert x.grad[0, :3].abs().sum() > 0 and x.grad[1, 3].abs().sum() > 0


def test_errors():
    with pytest.raises(ValueError, match='remove backbone.in_channels'):
        EarlyFusionResNet(dict(rgb=3, depth=1), depth=18, in_channels=4)
    with pytest.raises(ValueError, match='needs 4'):
        small()(torch.randn(1, 3, 32, 32))

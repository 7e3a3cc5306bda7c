"""MultiBranchBackbone: any backbone config per modality, fused under the
mask; MultiBranchResNet is its ResNet form with the same state dict."""
import pytest
import torch
from mmengine.registry import MODELS as ROOT_MODELS
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS

from mm_incomplete.models.backbones import (MultiBranchBackbone,
                                            MultiBranchResNet)
from mm_incomplete.models.utils.fusion import BaseFusion

RGBD = dict(rgb=3, depth=1)
MIT = dict(type='mmseg.MixVisionTransformer', embed_dims=8,
           num_layers=[1, 1, 1, 1], num_heads=[1, 2, 4, 8])
CONVNEXT = dict(type='mmpretrain.ConvNeXt', arch=dict(depths=[1, 1, 1, 1],
                channels=[8, 16, 32, 64]), out_indices=(0, 1, 2, 3),
                gap_before_final_norm=False)
RESNET_V1C = dict(type='mmseg.ResNetV1c', depth=18, base_channels=8,
                  stem_channels=8)


@ROOT_MODELS.register_module()
class NotAFusion(torch.nn.Module):
    """Takes a fusion block's arguments but is no BaseFusion."""

    def __init__(self, modalities, channels):
        super().__init__()


def build(branch, **kwargs):
    torch.manual_seed(0)
    return MultiBranchBackbone(RGBD, branch=branch, **kwargs)


def test_resnet_form_keeps_its_state_dict_and_outputs():
    torch.manual_seed(0)
    old_style = MultiBranchResNet(RGBD, depth=18, base_channels=8,
                                  feedback='rgb')
    general = build(dict(type='mmseg.ResNet', depth=18, base_channels=8,
                         stem_channels=8), feedback='rgb')
    keys = set(old_style.state_dict())
    assert keys == set(general.state_dict())
    for key in ('branches.rgb.conv1.weight', 'branches.depth.layer4.1.bn2.'
                'running_mean', 'fusions.stem.se.rgb.excite.0.weight',
                'fusions.layer4.se.depth.excite.2.bias'):
        assert key in keys
    general.load_state_dict(old_style.state_dict())
    x = torch.randn(2, 4, 32, 32)
    mask = torch.tensor([[True, True], [False, True]])
    for a, b in zip(old_style.eval()(x, mask), general.eval()(x, mask)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize('branch, channels, sizes', [
    (MIT, [8, 16, 32, 64], [16, 8, 4, 2]),
    (CONVNEXT, [8, 16, 32, 64], [16, 8, 4, 2]),
    (RESNET_V1C, [8, 16, 32, 64], [16, 8, 4, 2]),
])
def test_any_backbone_per_modality(branch, channels, sizes):
    model = build(branch).train()
    assert model.out_channels == channels
    assert sorted(model.fusions) == ['layer1', 'layer2', 'layer3', 'layer4']
    assert all(isinstance(f, BaseFusion) for f in model.fusions.values())
    mask = torch.tensor([[True, True], [True, False], [False, True]])
    x = torch.randn(3, 4, 64, 64)
    outs = model(x, mask)
    assert [tuple(o.shape) for o in outs] == [
        (3, c, s, s) for c, s in zip(channels, sizes)]
    # a masked modality has no effect on its sample and gets no gradient
    y = x.clone()
    y[1, 3] = torch.randn(64, 64) * 10
    y[2, :3] = torch.randn(3, 64, 64) * 10
    for a, b in zip(outs, model(y, mask)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    x.requires_grad_(True)
    sum(o.square().sum() for o in model(x, mask)).backward()
    assert x.grad[1, 3].abs().sum() == 0 and x.grad[2, :3].abs().sum() == 0
    assert x.grad[1, :3].abs().sum() > 0 and x.grad[2, 3].abs().sum() > 0


def test_encode_once_fuse_many_with_a_transformer_branch():
    model = build(dict(MIT, out_indices=(1, 3))).eval()
    assert model.encoder_is_mask_independent
    x = torch.randn(2, 4, 64, 64)
    calls = []
    model.branches['depth'].register_forward_hook(
        lambda *a: calls.append(1))
    feats = model.encode(x)
    for combo in ([True, True], [True, False], [False, True]):
        mask = torch.tensor([combo, combo])
        with torch.no_grad():
            fused = model.fuse(feats, mask)
            direct = model(x, mask)
        for a, b in zip(fused, direct):
            torch.testing.assert_close(a, b)
    assert len(calls) == 1 + 2  # encode once + the two direct runs with depth
    # depth masked out for the whole batch: its branch does not run
    calls.clear()
    model(x, torch.tensor([[True, False], [True, False]]))
    assert calls == []


def test_per_modality_branch_configs():
    model = build(dict(rgb=dict(type='mmseg.ResNet', depth=34,
                                base_channels=8, stem_channels=8),
                       depth=dict(type='mmseg.ResNet', depth=18,
                                  base_channels=8, stem_channels=8)))
    assert len(model.branches['rgb'].layer1) == 3
    assert len(model.branches['depth'].layer1) == 2
    assert [tuple(o.shape) for o in model(torch.randn(2, 4, 64, 64))][-1] \
        == (2, 64, 2, 2)
    with pytest.raises(ValueError) as err:
        build(dict(rgb=dict(type='mmseg.ResNet', depth=18, base_channels=8),
                   depth=dict(type='mmseg.ResNet', depth=18,
                              base_channels=16)))
    assert "'depth' branch" in str(err.value) and \
        "'rgb' branch" in str(err.value)


def test_feedback_needs_a_stepwise_branch():
    model = build(RESNET_V1C, feedback='depth')
    assert set(model.fusions) == {'stem', 'layer1', 'layer2', 'layer3',
                                  'layer4'}
    assert not model.encoder_is_mask_independent
    assert len(model(torch.randn(2, 4, 32, 32))) == 4
    with pytest.raises(ValueError, match='MixVisionTransformer'):
        build(MIT, feedback='rgb')


def test_errors_name_the_option():
    with pytest.raises(ValueError, match='in_channels=4'):
        build(dict(RESNET_V1C, in_channels=4))
    with pytest.raises(ValueError, match="keyed by the modality names"):
        build(dict(rgb=RESNET_V1C))
    with pytest.raises(ValueError, match='gap_before_final_norm'):
        build(dict(CONVNEXT, gap_before_final_norm=True))
    with pytest.raises(TypeError, match='NotAFusion.*not a BaseFusion'):
        build(RESNET_V1C, fusion=dict(type='NotAFusion'))
    with pytest.raises(ValueError, match='backbone.feedback'):
        build(RESNET_V1C, feedback='ir')


def test_registered_in_both_scopes():
    for registry in (MMSEG_MODELS, MMPRETRAIN_MODELS):
        model = registry.build(dict(type='MultiBranchBackbone',
                                    modalities='rgb:3,ir:1:other',
                                    branch=RESNET_V1C))
        assert model.layout.names == ('rgb', 'ir')


def test_host_reads_of_a_training_step(monkeypatch):
    """The mask is validated once and the branch plan read once per forward
    (the fusion blocks read nothing back when every branch ran). These
    reads are of the host mask the task models pass: free there, each would
    be a synchronisation on a device."""
    reads = []
    for attr in ('__bool__', '__int__', 'item', 'tolist'):
        real = getattr(torch.Tensor, attr)

        def counted(self, *args, _real=real, **kwargs):
            reads.append(1)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, attr, counted)
    model = build(RESNET_V1C).train()
    x = torch.randn(3, 4, 32, 32)
    partial = torch.tensor([[True, True], [True, False], [False, True]])
    for mask, expected in ((None, 1), (partial, 2)):
        reads.clear()
        sum(o.sum() for o in model(x, mask)).backward()
        assert len(reads) == expected, mask

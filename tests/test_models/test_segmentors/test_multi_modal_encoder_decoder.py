"""Tests of MultiModalEncoderDecoder: the mask through every mmseg path."""
import re

import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.models import SegTTAModel
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mm_incomplete.modality import set_modality_masks

RGBD = dict(rgb=3, depth=1)


@pytest.fixture(autouse=True)
def mmseg_scope():
    # BaseModel builds the data preprocessor in the current default scope
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


def build(backbone_type='MultiBranchResNet', test_cfg=None, **backbone):
    torch.manual_seed(0)
    backbone = dict(type=backbone_type, modalities=RGBD, depth=18,
                    base_channels=8, **backbone)
    if backbone_type == 'EarlyFusionResNet':
        backbone['stem_channels'] = 8
    return MODELS.build(dict(
        type='MultiModalEncoderDecoder',
        data_preprocessor=dict(type='MultiModalSegDataPreProcessor',
                               modalities=RGBD),
        backbone=backbone,
        decode_head=dict(type='UPerHead', in_channels=[8, 16, 32, 64],
                         in_index=(0, 1, 2, 3), pool_scales=(1, 2),
                         channels=8, num_classes=5, norm_cfg=dict(type='BN'),
                         align_corners=False),
        auxiliary_head=dict(type='FCNHead', in_channels=32, in_index=2,
                            channels=8, num_convs=1, num_classes=5,
                            loss_decode=dict(type='CrossEntropyLoss',
                                             loss_weight=0.4)),
        test_cfg=test_cfg or dict(mode='whole')))


def samples(n=2, h=32, w=48, labels=True):
    out = []
    for i in range(n):
        s = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                        img_path=f'{i}.png'))
        if labels:
            s.gt_sem_seg = PixelData(data=torch.randint(0, 5, (1, h, w)))
        out.append(s)
    return out


def count_calls(module):
    calls = []
    module.register_forward_hook(lambda *args: calls.append(1))
    return calls


def test_loss_uses_the_samples_masks():
    model = build().train()
    data = samples()
    set_modality_masks(data, torch.tensor([[True, False], [True, False]]))
    depth_calls = count_calls(model.backbone.branches['depth'].conv1)
    losses = model(torch.randn(2, 4, 32, 48), data, mode='loss')
    assert set(losses) >= {'decode.loss_ce', 'aux.loss_ce'}
    assert depth_calls == []  # depth masked out for the whole batch
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.backbone.branches['rgb'].conv1.weight.grad is not None
    assert model.backbone.branches['depth'].conv1.weight.grad is None


@pytest.mark.parametrize('backbone_type', ['MultiBranchResNet',
                                           'EarlyFusionResNet'])
def test_predict_ignores_masked_channels(backbone_type):
    model = build(backbone_type).eval()
    x = torch.randn(2, 4, 32, 48)
    y = x.clone()
    y[:, 3] = torch.randn(2, 32, 48)
    data_x, data_y = samples(labels=False), samples(labels=False)
    for d in (data_x, data_y):
        set_modality_masks(d, torch.tensor([[True, False], [True, False]]))
    px = model.predict(x, data_x)
    py = model.predict(y, data_y)
    for a, b in zip(px, py):
        torch.testing.assert_close(a.seg_logits.data, b.seg_logits.data)
    # and the full-modality prediction does see the depth change
    full = model.predict(y, samples(labels=False))
    assert not torch.allclose(full[0].seg_logits.data,
                              px[0].seg_logits.data)
    tensor_out = model(x, data_x, mode='tensor')
    assert tensor_out.shape == (2, 5, 8, 12)


@pytest.mark.parametrize('test_cfg', [
    dict(mode='whole'),
    dict(mode='slide', crop_size=(32, 32), stride=(16, 16))])
@pytest.mark.parametrize('backbone', [
    dict(backbone_type='MultiBranchResNet'),
    dict(backbone_type='MultiBranchResNet', feedback='rgb'),
    dict(backbone_type='EarlyFusionResNet')])
def test_predict_combinations_equals_separate_predicts(test_cfg, backbone):
    model = build(test_cfg=test_cfg, **backbone).eval()
    x = torch.randn(2, 4, 32, 48)
    data = samples()
    with torch.no_grad():
        out = model.predict_combinations(x, data, 'all')
    assert list(out) == ['rgb+depth', 'rgb', 'depth']
    assert 'pred_sem_seg' not in data[0]  # inputs untouched
    for name, combo_mask in [('rgb+depth', [True, True]),
                             ('rgb', [True, False]),
                             ('depth', [False, True])]:
        single = samples()
        for s, d in zip(single, data):
            s.gt_sem_seg = d.gt_sem_seg
        set_modality_masks(single, torch.tensor([combo_mask] * 2))
        with torch.no_grad():
            expected = model.predict(x, single)
        for got, exp in zip(out[name], expected):
            assert got.modality_mask.tolist() == combo_mask
            torch.testing.assert_close(got.seg_logits.data,
                                       exp.seg_logits.data)
            assert torch.equal(got.pred_sem_seg.data, exp.pred_sem_seg.data)
            assert torch.equal(got.gt_sem_seg.data, exp.gt_sem_seg.data)
    assert out['rgb'][0] is not out['depth'][0]


@pytest.mark.parametrize('test_cfg,windows', [
    (dict(mode='whole'), 1),
    (dict(mode='slide', crop_size=(32, 32), stride=(16, 16)), 2)])
def test_predict_combinations_runs_encoders_once(test_cfg, windows):
    model = build(test_cfg=test_cfg).eval()
    rgb = count_calls(model.backbone.branches['rgb'].conv1)
    depth = count_calls(model.backbone.branches['depth'].conv1)
    head = count_calls(model.decode_head.conv_seg)
    with torch.no_grad():
        model.predict_combinations(torch.randn(2, 4, 32, 48), samples(),
                                   ['rgb', 'rgb+depth', 'depth'])
    assert (len(rgb), len(depth), len(head)) == (windows, windows,
                                                 3 * windows)
    depth.clear()
    with torch.no_grad():
        out = model.predict_combinations(torch.randn(2, 4, 32, 48),
                                         samples(), 'rgb')
    assert list(out) == ['rgb'] and depth == []


def test_test_step_and_tta_use_the_test_combination():
    model = build().eval()
    model.data_preprocessor.test_combination = 'depth'
    img = torch.rand(4, 32, 48) * 255
    data = dict(inputs=[img], data_samples=samples(1, labels=False))
    pred = model.test_step(data)[0]
    assert pred.modality_mask.tolist() == [False, True]
    other = img.clone()
    other[:3] = 0  # rgb is masked: changing it has no effect
    pred2 = model.test_step(dict(inputs=[other],
                                 data_samples=samples(1, labels=False)))[0]
    torch.testing.assert_close(pred.seg_logits.data, pred2.seg_logits.data)

    tta = SegTTAModel(module=model)
    flipped = samples(1, labels=False)[0]
    flipped.set_metainfo(dict(flip=True, flip_direction='horizontal'))
    merged = tta.test_step(dict(
        inputs=[[img], [img.flip(-1)]],
        data_samples=[samples(1, labels=False), [flipped]]))
    assert merged[0].pred_sem_seg.shape == (32, 48)


def test_layout_mismatch_is_reported():
    with pytest.raises(ValueError, match=re.escape(
            "backbone.modalities ModalityLayout('rgb:3,depth:1') != "
            "data_preprocessor.modalities ModalityLayout('rgb:3,hha:3')")):
        MODELS.build(dict(
            type='MultiModalEncoderDecoder',
            data_preprocessor=dict(type='MultiModalSegDataPreProcessor',
                                   modalities=dict(rgb=3, hha=3)),
            backbone=dict(type='MultiBranchResNet', modalities=RGBD,
                          depth=18, base_channels=8),
            decode_head=dict(type='FCNHead', in_channels=64, channels=8,
                             num_classes=5)))
    with pytest.raises(TypeError, match='multi-modal backbone'):
        MODELS.build(dict(
            type='MultiModalEncoderDecoder',
            backbone=dict(type='ResNet', depth=18),
            decode_head=dict(type='FCNHead', in_channels=512, channels=8,
                             num_classes=5)))

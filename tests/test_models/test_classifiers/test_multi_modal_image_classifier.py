"""Tests of MultiModalImageClassifier: the mask through every mode."""
import re

import pytest
import torch
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mm_incomplete.modality import set_modality_masks

RGBD = dict(rgb=3, depth=1)


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield


def build(backbone_type='MultiBranchResNet', **backbone):
    torch.manual_seed(0)
    backbone = dict(type=backbone_type, modalities=RGBD, depth=18,
                    base_channels=8, out_indices=(3, ), **backbone)
    if backbone_type == 'EarlyFusionResNet':
        backbone['stem_channels'] = 8
    return MODELS.build(dict(
        type='MultiModalImageClassifier',
        data_preprocessor=dict(modalities=RGBD),
        backbone=backbone,
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=64)))


def samples(n=2):
    return [DataSample().set_gt_label(i % 3) for i in range(n)]


def test_default_preprocessor_and_loss_with_masks():
    model = build().train()
    assert type(model.data_preprocessor).__name__ == \
        'MultiModalClsDataPreProcessor'
    data = samples()
    set_modality_masks(data, torch.tensor([[False, True], [False, True]]))
    losses = model(torch.randn(2, 4, 32, 32), data, mode='loss')
    losses['loss'].backward()
    assert model.backbone.branches['rgb'].conv1.weight.grad is None
    assert model.backbone.branches['depth'].conv1.weight.grad is not None


@pytest.mark.parametrize('backbone', [
    dict(backbone_type='MultiBranchResNet'),
    dict(backbone_type='MultiBranchResNet', feedback='rgb'),
    dict(backbone_type='EarlyFusionResNet')])
def test_predict_combinations_equals_separate_predicts(backbone):
    model = build(**backbone).eval()
    x = torch.randn(3, 4, 32, 32)
    data = samples(3)
    with torch.no_grad():
        out = model.predict_combinations(x, data, 'rgb,depth,rgb+depth')
    assert list(out) == ['rgb', 'depth', 'rgb+depth']
    assert 'pred_score' not in data[0]
    for name, row in [('rgb', [True, False]), ('depth', [False, True]),
                      ('rgb+depth', [True, True])]:
        single = samples(3)
        set_modality_masks(single, torch.tensor([row] * 3))
        with torch.no_grad():
            expected = model.predict(x, single)
            logits = model(x, single, mode='tensor')
        for got, exp, logit in zip(out[name], expected, logits):
            assert got.modality_mask.tolist() == row
            torch.testing.assert_close(got.pred_score, exp.pred_score)
            torch.testing.assert_close(got.pred_score, logit.softmax(0))
            assert got.gt_label.tolist() == exp.gt_label.tolist()


def test_predict_combinations_runs_encoders_once():
    model = build().eval()
    calls = []
    for branch in model.backbone.branches.values():
        branch.conv1.register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        model.predict_combinations(torch.randn(2, 4, 32, 32), samples(),
                                   'all')
    assert len(calls) == 2


def test_test_step_and_stages():
    model = build().eval()
    model.data_preprocessor.test_combination = 'rgb'
    preds = model.test_step(dict(inputs=[torch.rand(4, 32, 32) * 255] * 2,
                                 data_samples=samples()))
    assert preds[0].modality_mask.tolist() == [True, False]
    x = torch.randn(2, 4, 32, 32)
    assert model.extract_feat(x, stage='backbone')[0].shape == (2, 64, 1, 1)
    assert model.extract_feat(x, stage='pre_logits').shape == (2, 64)
    with pytest.raises(ValueError, match='Invalid output stage'):
        model.extract_feat(x, stage='head')


def test_layout_mismatch_is_reported():
    with pytest.raises(ValueError, match=re.escape(
            "backbone.modalities ModalityLayout('rgb:3,depth:1') != "
            "data_preprocessor.modalities ModalityLayout('rgb:3,hha:3')")):
        MODELS.build(dict(
            type='MultiModalImageClassifier',
            data_preprocessor=dict(modalities=dict(rgb=3, hha=3)),
            backbone=dict(type='MultiBranchResNet', modalities=RGBD,
                          depth=18, base_channels=8),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=3, in_channels=64)))

"""The every-combination loops with this package's segmentor and classifier.

A tiny multi-branch ResNet-18 (width 4) on 8 random 32x32 RGB-D samples:
mmseg ``IoUMetric`` and mmpretrain ``Accuracy`` per combination must equal
separate single-combination runs and the reference path (one full
``test_step`` per combination).
"""
import copy
import uuid

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mm_incomplete  # noqa: F401

MODALITIES = dict(rgb=3, depth=1)
COMBOS = ['rgb+depth', 'rgb', 'depth']


class RandomSegSet(Dataset):
    metainfo = dict(classes=('a', 'b', 'c'), palette=[[0, 0, 0]] * 3)

    def __init__(self, num=6, size=64):
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        g = torch.Generator().manual_seed(3)
        self.items = []
        for i in range(num):
            img = torch.rand(4, size, size, generator=g) * 255
            label = (img[0] + img[3] > 255).long() + (img[1] > 200).long()
            sample = SegDataSample(metainfo=dict(
                img_path=f'{i}.png', ori_shape=(size, size),
                img_shape=(size, size)))
            sample.gt_sem_seg = PixelData(data=label[None])
            self.items.append(dict(inputs=img, data_samples=sample))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return copy.deepcopy(self.items[i])


class RandomClsSet(Dataset):
    metainfo = dict(classes=('a', 'b', 'c'))

    def __init__(self, num=6, size=32):
        from mmpretrain.structures import DataSample
        g = torch.Generator().manual_seed(4)
        self.items = []
        for i in range(num):
            img = torch.rand(4, size, size, generator=g) * 255
            sample = DataSample().set_gt_label(i % 3)
            self.items.append(dict(inputs=img, data_samples=sample))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return copy.deepcopy(self.items[i])


def backbone(num_stages=4):
    # two stages keep a 8x8 feature map of a 64x64 input for segmentation
    return dict(type='MultiBranchResNet', modalities=MODALITIES, depth=18,
                base_channels=4, num_stages=num_stages,
                strides=(1, 2, 2, 2)[:num_stages],
                dilations=(1, 1, 1, 1)[:num_stages],
                out_indices=(num_stages - 1, ))


def preprocessor(kind):
    return dict(type=f'MultiModal{kind}DataPreProcessor',
                modalities=MODALITIES,
                mean=dict(rgb=[128.] * 3, depth=[128.]),
                std=dict(rgb=[64.] * 3, depth=[64.]))


def build(registry, cfg):
    torch.manual_seed(0)
    model = registry.build(dict(cfg, _scope_=registry.scope))
    model.init_weights()
    return model


def seg_model(test_mode='whole'):
    from mmseg.registry import MODELS
    test_cfg = ConfigDict(mode=test_mode)  # as a loaded config gives it
    if test_mode == 'slide':
        test_cfg.update(crop_size=(48, 48), stride=(32, 32))
    model = build(MODELS, dict(
        type='MultiModalEncoderDecoder',
        data_preprocessor=preprocessor('Seg'),
        backbone=backbone(num_stages=2),
        decode_head=dict(type='FCNHead', in_channels=8, in_index=0,
                         channels=8, num_convs=1, num_classes=3),
        test_cfg=test_cfg))
    # larger logits than the 0.01-std init so the argmax varies by pixel
    torch.nn.init.normal_(model.decode_head.conv_seg.weight, std=1.0)
    return model


def cls_model():
    from mmpretrain.registry import MODELS
    model = build(MODELS, dict(
        type='MultiModalImageClassifier',
        data_preprocessor=preprocessor('Cls'),
        backbone=backbone(),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=32)))
    torch.nn.init.normal_(model.head.fc.weight, std=1.0)
    return model


def run_test(tmp_path, model, dataset, evaluator, scope, combinations='all',
             reuse=True):
    loader = dict(dataset=dataset, batch_size=4, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=False))
    runner = Runner(
        model=copy.deepcopy(model), work_dir=str(tmp_path),
        experiment_name=f'real_{uuid.uuid4().hex}', default_scope=scope,
        test_dataloader=loader, test_evaluator=evaluator,
        test_cfg=dict(type='MultiCombinationTestLoop',
                      combinations=combinations, reuse=reuse),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1)))
    return runner.test()


def test_segmentor_every_combination_equals_single_runs(tmp_path):
    ds, model = RandomSegSet(), seg_model()
    ev = dict(type='IoUMetric', iou_metrics=['mIoU'])
    joint = run_test(tmp_path / 'all', model, ds, ev, 'mmseg')
    assert set(joint) == {f'{c}/{k}' for c in COMBOS + ['mean']
                          for k in ('aAcc', 'mIoU', 'mAcc')}
    assert joint['mean/mIoU'] == pytest.approx(
        sum(joint[f'{c}/mIoU'] for c in COMBOS) / 3)
    # the combinations really give different predictions
    assert len({joint[f'{c}/aAcc'] for c in COMBOS}) > 1
    for combo in COMBOS:
        single = run_test(tmp_path / combo, model, ds, ev, 'mmseg', combo)
        assert set(single) == {f'{combo}/{k}' for k in
                               ('aAcc', 'mIoU', 'mAcc')} | \
            {f'mean/{k}' for k in ('aAcc', 'mIoU', 'mAcc')}
        for k in ('aAcc', 'mIoU', 'mAcc'):
            assert single[f'{combo}/{k}'] == joint[f'{combo}/{k}']
    separate = run_test(tmp_path / 'sep', model, ds, ev, 'mmseg',
                        reuse=False)
    assert separate == joint


def test_segmentor_slide_inference_equals_reference(tmp_path):
    ds, model = RandomSegSet(num=4), seg_model('slide')
    ev = dict(type='IoUMetric', iou_metrics=['mIoU'])
    joint = run_test(tmp_path / 'all', model, ds, ev, 'mmseg')
    assert len({joint[f'{c}/aAcc'] for c in COMBOS}) > 1
    separate = run_test(tmp_path / 'sep', model, ds, ev, 'mmseg',
                        reuse=False)
    assert separate == joint


def test_classifier_every_combination_equals_reference(tmp_path):
    ds, model = RandomClsSet(), cls_model()
    ev = dict(type='Accuracy', topk=(1, ))
    joint = run_test(tmp_path / 'all', model, ds, ev, 'mmpretrain')
    assert set(joint) == {f'{c}/accuracy/top1' for c in COMBOS + ['mean']}
    separate = run_test(tmp_path / 'sep', model, ds, ev, 'mmpretrain',
                        reuse=False)
    assert separate == joint
    single = run_test(tmp_path / 'rgb', model, ds, ev, 'mmpretrain', 'rgb')
    assert single == {'rgb/accuracy/top1': joint['rgb/accuracy/top1'],
                      'mean/accuracy/top1': joint['rgb/accuracy/top1']}

"""Tiny multi-modal models and batches shared by the method / late-fusion
tests (CPU, a few milliseconds per forward)."""
import torch
from mmengine.structures import PixelData
from mmpretrain.registry import MODELS as CLS_MODELS
from mmpretrain.structures import DataSample
from mmseg.registry import MODELS as SEG_MODELS
from mmseg.structures import SegDataSample

import mm_incomplete  # noqa: F401
from mm_incomplete.modality import set_modality_masks

LAYOUT = dict(rgb=3, depth=1)
MASK = torch.tensor([[1, 1], [0, 1], [1, 0], [0, 1]]).bool()
NUM_CLASSES = 4
STAGES = [8, 16, 32, 64]


def fcn(loss_weight=1.0, **kw):
    return dict(dict(type='FCNHead', in_channels=64, in_index=3, channels=16,
                     num_convs=1, num_classes=NUM_CLASSES, dropout_ratio=0,
                     loss_decode=dict(type='CrossEntropyLoss',
                                      loss_weight=loss_weight)), **kw)


def linear(loss_weight=1.0, in_channels=64):
    return dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                in_channels=in_channels,
                loss=dict(type='CrossEntropyLoss', loss_weight=loss_weight))


def seg_model(**kw):
    cfg = dict(
        type='MultiModalEncoderDecoder', _scope_='mmseg',
        backbone=dict(type='MultiBranchResNet', modalities=LAYOUT, depth=18,
                      base_channels=8),
        decode_head=fcn(), test_cfg=dict(mode='whole'))
    cfg.update(kw)
    return SEG_MODELS.build(cfg)


def cls_model(**kw):
    cfg = dict(
        type='MultiModalImageClassifier', _scope_='mmpretrain',
        backbone=dict(type='MultiBranchResNet', modalities=LAYOUT, depth=18,
                      base_channels=8, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'), head=linear(),
        data_preprocessor=dict(modalities=LAYOUT))
    cfg.update(kw)
    return CLS_MODELS.build(cfg)


def seg_batch(mask=MASK, size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    samples = [
        SegDataSample(
            gt_sem_seg=PixelData(data=torch.randint(
                NUM_CLASSES, (1, size, size), generator=g)),
            metainfo=dict(img_shape=(size, size), ori_shape=(size, size)))
        for _ in range(len(mask))
    ]
    set_modality_masks(samples, mask)
    return torch.rand(len(mask), 4, size, size, generator=g), samples


def cls_batch(mask=MASK, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    samples = [DataSample().set_gt_label(i % NUM_CLASSES)
               for i in range(len(mask))]
    set_modality_masks(samples, mask)
    return torch.rand(len(mask), 4, size, size, generator=g), samples


def count_encoder_runs(backbone):
    """``{modality: calls}`` of each branch's stem conv, via forward hooks
    (one call = one run of that modality's encoder)."""
    counts = {name: 0 for name in backbone.layout.names}
    handles = []
    for name in counts:
        def hook(*_, name=name):
            counts[name] += 1
        handles.append(
            backbone.branches[name].conv1.register_forward_hook(hook))
    return counts, handles

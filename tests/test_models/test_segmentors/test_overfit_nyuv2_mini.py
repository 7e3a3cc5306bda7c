"""The multi-branch RGB-D segmentor overfits the two real NYUv2 frames.

End to end on real data: raw RGB (0..255) and depth (metres) go through
MultiModalSegDataPreProcessor and MultiModalEncoderDecoder.train_step; after a
150 CPU iterations on 60 x 80 frames the NYU-40 pixel accuracy on the
same frames must be high for the full combination.
"""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mm_incomplete  # noqa: F401  registers the modules

ROOT = osp.join(osp.dirname(__file__), '..', '..', '..', '..', 'shared',
                'data', 'nyuv2_mini')
if not osp.isdir(ROOT):
    ROOT = '/work/shared/data/nyuv2_mini'
H, W = 60, 80
FRAMES = [('0001', 'rgb.jpg'), ('1407', 'rgb.png')]


def load_frame(folder, rgb_name):
    rgb = cv2.imread(osp.join(ROOT, folder, rgb_name))[:, :, ::-1]
    depth = cv2.imread(osp.join(ROOT, folder, 'depth_mm.png'),
                       cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000.
    label = cv2.imread(osp.join(ROOT, folder, 'label40.png'),
                       cv2.IMREAD_UNCHANGED)
    rgb = cv2.resize(rgb.astype(np.float32), (W, H),
                     interpolation=cv2.INTER_AREA)
    depth = cv2.resize(depth, (W, H), interpolation=cv2.INTER_NEAREST)
    label = cv2.resize(label, (W, H), interpolation=cv2.INTER_NEAREST)
    label = np.where(label == 0, 255, label.astype(np.int64) - 1)  # 0..39
    img = np.concatenate([rgb, depth[:, :, None]], axis=2)  # RGB, metres
    return torch.from_numpy(img.transpose(2, 0, 1).copy()), \
        torch.from_numpy(label)[None]


@pytest.mark.skipif(not osp.isdir(ROOT), reason='nyuv2_mini fixture absent')
def test_multi_branch_overfits_two_nyuv2_frames():
    torch.manual_seed(0)
    frames = [load_frame(*f) for f in FRAMES]
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(dict(
            type='MultiModalEncoderDecoder',
            data_preprocessor=dict(
                type='MultiModalSegDataPreProcessor',
                modalities=dict(rgb=3, depth=1),
                mean=dict(rgb=[123.675, 116.28, 103.53], depth=[2.8]),
                std=dict(rgb=[58.395, 57.12, 57.375], depth=[1.4])),
            backbone=dict(type='MultiBranchResNet',
                          modalities=dict(rgb=3, depth=1), depth=18,
                          base_channels=8),
            decode_head=dict(type='UPerHead', in_channels=[8, 16, 32, 64],
                             in_index=(0, 1, 2, 3), pool_scales=(1, 2, 3, 6),
                             channels=32, dropout_ratio=0.0, num_classes=40,
                             norm_cfg=dict(type='BN'), align_corners=False),
            test_cfg=dict(mode='whole')))
    model.init_weights()
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=5e-3,
                                           weight_decay=0))

    def batch():
        samples = []
        for i, (_, label) in enumerate(frames):
            s = SegDataSample(metainfo=dict(img_shape=(H, W),
                                            ori_shape=(H, W),
                                            img_path=FRAMES[i][0]))
            s.gt_sem_seg = PixelData(data=label)
            samples.append(s)
        return dict(inputs=[img for img, _ in frames], data_samples=samples)

    model.train()
    first = model.train_step(batch(), optim)['decode.loss_ce'].item()
    for _ in range(149):
        last = model.train_step(batch(), optim)['decode.loss_ce'].item()
    assert last < first / 10

    model.eval()
    with torch.no_grad():
        preds = model.val_step(batch())
    for pred, (_, label) in zip(preds, frames):
        valid = label != 255
        acc = (pred.pred_sem_seg.data[valid] == label[valid]).float().mean()
        assert acc > 0.9, f'pixel accuracy {acc:.3f} on {pred.img_path}'

"""Acceptance: the DMRNet NYUDv2 paper config trains on real frames and is
tested under every combination.

The two real NYUv2 frames of ``shared/data/nyuv2_mini`` are laid out as
``tools/dataset_converters/nyudv2.py`` writes them (``rgb/``, ``depth/`` in
mm, ``label40/`` with 0 = unlabeled, per split), the class weights come
from ``tools/dataset_converters/class_weights.py``, the ImageNet weights
from a torchvision-format ResNet file this test writes (random values, the
published keys and shapes). A child config of
``configs/dmrnet/nyud_rgbd.py`` changes only what makes it CPU-sized:
crop and test size, batch 2, 2 iterations, no workers, the hard-combination
regularizer from iteration 0, and **ResNet-18 instead of ResNet-50
branches** (with ResNet-50 the test took about 3x as long, mostly writing
and reading the larger checkpoint); everything else (ESANet's decoder of
512 / 256 / 128 channels and its multi-scale class-weighted loss, the
embedding after the context module, the second decoder, ESANet's
augmentation, the ImageNet loading rule) is the paper setting.
"""
import glob
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import torchvision

import mm_incomplete  # noqa: F401  (mmengine checkpoint types)
from mm_incomplete.utils import config_path

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MINI = osp.join(REPO, '..', '..', 'shared', 'data', 'nyuv2_mini')
if not osp.isdir(MINI):
    MINI = '/work/shared/data/nyuv2_mini'
FRAMES = {'000001': '0001/rgb.jpg', '001407': '1407/rgb.png'}


def _tool(path):
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(path))[0], osp.join(REPO, path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def lay_out_like_the_converter(root):
    """rgb/, depth/ (uint16 mm), label40/ (0 = unlabeled) per split."""
    for split in ('train', 'test'):
        for name, rgb in FRAMES.items():
            folder = osp.dirname(rgb)
            files = dict(
                rgb=cv2.imread(osp.join(MINI, rgb)),
                depth=cv2.imread(osp.join(MINI, folder, 'depth_mm.png'),
                                 cv2.IMREAD_UNCHANGED),
                label40=cv2.imread(osp.join(MINI, folder, 'label40.png'),
                                   cv2.IMREAD_UNCHANGED))
            assert files['depth'].dtype == np.uint16
            for kind, arr in files.items():
                os.makedirs(osp.join(root, kind, split), exist_ok=True)
                assert cv2.imwrite(osp.join(root, kind, split, f'{name}.png'),
                                   arr)


def write_child_config(folder, data_root, weights, ckpt):
    path = osp.join(folder, 'dmrnet_nyud_mini.py')
    base = config_path('dmrnet/nyud_rgbd.py')
    crop = (64, 80)
    with open(path, 'w') as f:
        f.write(f"""_base_ = [{base!r}]
data_root = {data_root!r}
crop = {crop!r}
train_pipeline = [
    dict(type='LoadMultiModalImages', modalities=dict(rgb=3, depth=1)),
    dict(type='LoadMultiModalAnnotations'),
    dict(type='MultiModalResize', scale=(96, 72), keep_ratio=False),
    dict(type='MultiModalRandomResize', scale=(96, 72),
         ratio_range=(1.0, 1.4), keep_ratio=True),
    dict(type='MultiModalRandomCrop', crop_size=crop),
    dict(type='RGBRandomHSV'),
    dict(type='MultiModalRandomFlip', prob=0.5),
    dict(type='MultiModalPad', size=crop),
    dict(type='PackMultiModalSegInputs'),
]
test_pipeline = [
    dict(type='LoadMultiModalImages', modalities=dict(rgb=3, depth=1)),
    dict(type='MultiModalResize', scale=(80, 64), keep_ratio=False),
    dict(type='LoadMultiModalAnnotations'),
    dict(type='PackMultiModalSegInputs'),
]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
weights = {weights!r}
model = dict(
    data_preprocessor=dict(size=crop),
    # ResNet-18 branches: two ResNet-50s make this test about 3x slower
    backbone=dict(depth=18, init_cfg=dict(checkpoint={ckpt!r})),
    neck=dict(necks=[
        dict(type='ESANetContextNeck', in_channels=[64, 128, 256, 512],
             skip_channels=(128, 256, 512), context_channels=512,
             pool_scales=(1, 5), norm_cfg=dict(type='SyncBN')),
        dict(type='ProbabilisticEmbeddingNeck',
             in_channels=[128, 256, 512, 512], in_index=-1)]),
    decode_head=dict(loss_decode=dict(class_weight_file=weights)),
    method_losses=dict(hard_combination=dict(head=dict(loss_decode=dict(
        class_weight_file=weights)))))
param_scheduler = []
train_cfg = dict(max_iters=2, val_interval=3)  # tested below, not here
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2, save_best=None,
                                     save_optimizer=False),
                     visualization=dict(draw=False))
custom_hooks = [dict(type='LossScaleWarmupHook',
                     modules=['method_losses'], begin=0)]
""")
    return path


@pytest.mark.skipif(not osp.isdir(MINI), reason='nyuv2_mini fixture absent')
def test_dmrnet_paper_config_trains_and_tests_every_combination(tmp_path):
    data_root = str(tmp_path / 'nyudv2')
    lay_out_like_the_converter(data_root)
    weights = osp.join(data_root, 'class_weights_label40.json')
    record = _tool('tools/dataset_converters/class_weights.py').main([
        osp.join(data_root, 'label40', 'train'), '--num-classes', '40', '-o',
        weights])
    assert record['images'] == 2 and 0 < len(record['absent_classes']) < 40
    ckpt = str(tmp_path / 'resnet18-f37072fd.pth')  # torchvision's layout
    torch.manual_seed(0)
    imagenet = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(imagenet, ckpt)
    cfg = write_child_config(str(tmp_path), data_root, weights, ckpt)
    work_dir = str(tmp_path / 'work')
    _tool('tools/train.py').main([cfg, '--work-dir', work_dir])

    saved = torch.load(osp.join(work_dir, 'iter_2.pth'))
    state = saved['state_dict']
    assert any(k.startswith('neck.necks.1.embeddings') for k in state)
    assert any(k.startswith('method_losses.hard_combination.head.decoder.2')
               for k in state)
    # trained from the ImageNet file: two SGD steps at lr 0.01 stay close
    # to it, the depth branch's first conv to the RGB weights' sum
    for name, conv1 in (('rgb', imagenet['conv1.weight']), (
            'depth', imagenet['conv1.weight'].sum(1, keepdim=True))):
        w = state[f'backbone.branches.{name}.conv1.weight']
        # (a fresh initialisation would be about 1.4 norms away)
        assert (w - conv1).norm() < 0.2 * conv1.norm(), name

    # the text log (the JSON scalars go to mmengine's global visualizer,
    # which an earlier in-process runner may own)
    logs = open(glob.glob(osp.join(work_dir, '*', '*.log'))[0]).read()
    for key in ('decode.loss_ce', 'decode.loss_ce_down32', 'aux.loss_ce',
                'loss_kl'):
        assert f' {key}: ' in logs, key

    test_dir = str(tmp_path / 'test')
    _tool('tools/test.py').main([cfg, osp.join(work_dir, 'iter_2.pth'),
                                 '--work-dir', test_dir])
    files = glob.glob(osp.join(test_dir, '*', 'combination_metrics_test*'))
    assert len(files) == 1
    metrics = json.load(open(files[0]))
    text = json.dumps(metrics)
    for combo in ('rgb+depth', 'rgb', 'depth', 'mean'):
        assert f'"{combo}' in text or f'{combo}/mIoU' in text, text[:500]

"""Every base dataset config builds its datasets and runs its pipelines."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

CFG_DIR = osp.join(osp.dirname(__file__), '..', '..', 'mm_incomplete',
                   'configs', '_base_', 'datasets')
SMALL_SEG = dict(num_train=4, num_val=2, num_test=2)
SMALL_CLS = dict(num_train=8, num_val=2, num_test=2)


def _build(cfg, key, scope, **overrides):
    init_default_scope(scope)
    if scope == 'mmseg':
        from mmseg.registry import DATASETS
    else:
        from mmpretrain.registry import DATASETS
    ds_cfg = cfg[key].dataset
    ds_cfg.update(overrides)
    return DATASETS.build(ds_cfg)


@pytest.mark.parametrize('name', [
    'nyud_rgbd.py', 'nyud_rgbd_13.py', 'sunrgbd_rgbd.py', 'synthetic_seg.py',
    'synthetic_cls.py', 'sunrgbd_scene.py', 'casia_surf.py'
])
def test_config_fields(name):
    cfg = Config.fromfile(osp.join(CFG_DIR, name))
    assert isinstance(cfg.modalities, (dict, str))
    for key in ('train_pipeline', 'test_pipeline', 'train_dataloader',
                'val_dataloader', 'test_dataloader', 'val_evaluator',
                'test_evaluator'):
        assert key in cfg, key
    # the layout is declared once: every dataset carries it and hands it to
    # its loading step, which names none
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[key].dataset
        assert dataset.modalities == cfg.modalities, key
        assert dataset.pipeline[0].type == 'LoadMultiModalImages'
        assert 'modalities' not in dataset.pipeline[0], key
    metric = cfg.val_evaluator['type']
    assert metric in ('IoUMetric', 'Accuracy')


def test_synthetic_seg_config(tmp_path):
    cfg = Config.fromfile(osp.join(CFG_DIR, 'synthetic_seg.py'))
    assert cfg.train_dataloader.num_workers <= 2
    assert cfg.train_dataloader.persistent_workers is False
    root = str(tmp_path / 'seg')
    np.random.seed(0)
    for key, split, n in (('train_dataloader', 'train', 4),
                          ('val_dataloader', 'val', 2),
                          ('test_dataloader', 'test', 2)):
        ds = _build(cfg, key, 'mmseg', data_root=root, **SMALL_SEG)
        assert len(ds) == n and ds.split == split
        out = ds[0]
        assert out['inputs'].shape == (4, 64, 64)
        ids = set(out['data_samples'].gt_sem_seg.data.unique().tolist())
        assert ids <= set(range(9)) | {255}


def test_synthetic_cls_config(tmp_path):
    cfg = Config.fromfile(osp.join(CFG_DIR, 'synthetic_cls.py'))
    root = str(tmp_path / 'cls')
    ds = _build(cfg, 'train_dataloader', 'mmpretrain', data_root=root,
                **SMALL_CLS)
    assert len(ds) == 8
    out = ds[0]
    assert out['inputs'].shape == (4, 64, 64)
    assert 0 <= int(out['data_samples'].gt_label) < 8
    test = _build(cfg, 'test_dataloader', 'mmpretrain', data_root=root,
                  **SMALL_CLS)
    assert len(test) == 2


def _img(path, arr):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, arr)


def test_sunrgbd_seg_config(tmp_path):
    root = str(tmp_path)
    rng = np.random.default_rng(0)
    _img(osp.join(root, 'rgb', 'train', '000001.jpg'),
         rng.integers(0, 255, (53, 73, 3), dtype=np.uint8))
    _img(osp.join(root, 'depth', 'train', '000001.png'),
         rng.integers(0, 8000, (53, 73), dtype=np.uint16))
    _img(osp.join(root, 'label37', 'train', '000001.png'),
         rng.integers(0, 38, (53, 73), dtype=np.uint8))
    cfg = Config.fromfile(osp.join(CFG_DIR, 'sunrgbd_rgbd.py'))
    ds = _build(cfg, 'train_dataloader', 'mmseg', data_root=root)
    assert len(ds.metainfo['classes']) == 37
    out = ds[0]
    assert out['inputs'].shape == (4, 480, 640)
    assert out['data_samples'].gt_sem_seg.data.max() <= 255


def test_scene_and_casia_configs(tmp_path):
    root = str(tmp_path)
    rng = np.random.default_rng(0)
    _img(osp.join(root, 'rgb', 'a.jpg'),
         rng.integers(0, 255, (40, 50, 3), dtype=np.uint8))
    _img(osp.join(root, 'depth', 'a.png'),
         rng.integers(1, 5000, (40, 50), dtype=np.uint16))
    with open(osp.join(root, 'scene_train.txt'), 'w') as f:
        f.write('rgb/a.jpg depth/a.png 18\n')
    cfg = Config.fromfile(osp.join(CFG_DIR, 'sunrgbd_scene.py'))
    ds = _build(cfg, 'train_dataloader', 'mmpretrain', data_root=root)
    out = ds[0]
    assert out['inputs'].shape == (4, 224, 224)
    assert out['data_samples'].gt_label.tolist() == [18]

    # CASIA-SURF: 8-bit colour jpgs for depth and ir, loaded as grey
    for m in ('color', 'depth', 'ir'):
        _img(osp.join(root, 'Training', m, 'x.jpg'),
             rng.integers(0, 255, (30, 30, 3), dtype=np.uint8))
    with open(osp.join(root, 'train_list.txt'), 'w') as f:
        f.write('Training/color/x.jpg Training/depth/x.jpg '
                'Training/ir/x.jpg 1\n')
    cfg = Config.fromfile(osp.join(CFG_DIR, 'casia_surf.py'))
    ds = _build(cfg, 'train_dataloader', 'mmpretrain', data_root=root)
    assert ds.metainfo['classes'] == ('spoof', 'live')
    out = ds[0]
    assert out['inputs'].shape == (5, 112, 112)
    assert out['data_samples'].gt_label.tolist() == [1]

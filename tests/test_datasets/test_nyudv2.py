"""The full NYUDv2 pipeline on the two real frames of nyuv2_mini."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

from mm_incomplete.datasets import NYU40_TO_13, NYUDv2Dataset
from mm_incomplete.utils import config_path

CFG = 'mm_incomplete/configs/_base_/datasets/nyud_rgbd.py'


def _cfg(name):
    return Config.fromfile(osp.join(
        osp.dirname(__file__), '..', '..', 'mm_incomplete', 'configs',
        '_base_', 'datasets', name))


def test_metainfo_and_mapping():
    ds40 = NYUDv2Dataset.classes_for(40)
    assert len(ds40) == 40 and ds40[0] == 'wall' and ds40[-1] == 'otherprop'
    assert len(NYUDv2Dataset.classes_for(13)) == 13
    assert len(NYU40_TO_13) == 41 and max(NYU40_TO_13) == 13
    with pytest.raises(ValueError, match='num_classes'):
        NYUDv2Dataset(num_classes=37, data_root='x', split='test')


def test_40_to_13_mapping_matches_the_real_labels():
    mapping = np.array(NYU40_TO_13)
    for folder in ('0001', '1407'):
        src = osp.join('/work/shared/data/nyuv2_mini', folder)
        if not osp.isdir(src):
            pytest.skip('fixture missing')
        l40 = cv2.imread(osp.join(src, 'label40.png'), cv2.IMREAD_UNCHANGED)
        l13 = cv2.imread(osp.join(src, 'label13.png'), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(mapping[l40], l13)


@pytest.mark.parametrize('num_classes', [40, 13])
def test_full_training_pipeline_on_real_frames(nyu_root, num_classes):
    init_default_scope('mmseg')
    cfg = _cfg('nyud_rgbd.py' if num_classes == 40 else 'nyud_rgbd_13.py')
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.update(data_root=nyu_root, split='test')
    np.random.seed(0)
    ds = DATASETS.build(ds_cfg)
    assert len(ds) == 2 and len(ds.metainfo['classes']) == num_classes
    for idx, name in enumerate(('000001', '001407')):
        label = cv2.imread(
            osp.join(nyu_root, f'label{num_classes}', 'test', name + '.png'),
            cv2.IMREAD_UNCHANGED)
        depth = cv2.imread(osp.join(nyu_root, 'depth', 'test', name + '.png'),
                           cv2.IMREAD_UNCHANGED) / 1000.0
        src_ids = {int(i) - 1 for i in np.unique(label) if i > 0} | {255}
        for _ in range(2):
            out = ds[idx]
            inputs, sample = out['inputs'], out['data_samples']
            assert inputs.shape == (4, 480, 640)
            assert sample.gt_sem_seg.data.shape == (1, 480, 640)
            ids = set(sample.gt_sem_seg.data.unique().tolist())
            assert ids <= src_ids
            d = inputs[3].numpy()
            assert d.min() >= 0.0
            valid = d[d > 0]
            assert valid.min() >= depth[depth > 0].min() - 1e-6
            assert valid.max() <= depth.max() + 1e-6
            rgb = inputs[:3].numpy()
            assert rgb.min() >= 0 and rgb.max() <= 255
            assert sample.modalities == ('rgb', 'depth')


def test_test_pipeline_keeps_full_resolution_labels(nyu_root):
    init_default_scope('mmseg')
    cfg = _cfg('nyud_rgbd.py')
    ds_cfg = cfg.test_dataloader.dataset
    ds_cfg.update(data_root=nyu_root)
    ds = DATASETS.build(ds_cfg)
    out = ds[1]  # 425 x 560 frame -> resized to fit 480 x 640
    assert out['inputs'].shape[1:] == (480, 632)
    assert out['data_samples'].gt_sem_seg.data.shape == (1, 425, 560)
    assert out['data_samples'].ori_shape == (425, 560)


def test_flip_and_crop_move_modalities_and_label_identically(nyu_root):
    """Crop + flip the real frame; compare against the source arrays."""
    init_default_scope('mmseg')
    pipeline = [
        dict(type='LoadMultiModalImages', modalities=dict(rgb=3, depth=1)),
        dict(type='LoadMultiModalAnnotations'),
        dict(type='MultiModalRandomCrop', crop_size=(200, 300)),
        dict(type='MultiModalRandomFlip', prob=1.0),
    ]
    ds = DATASETS.build(
        dict(type='NYUDv2Dataset', data_root=nyu_root, split='test',
             pipeline=pipeline))
    np.random.seed(2)
    out = ds[0]
    x1, y1, x2, y2 = out['crop_bbox']
    rgb = cv2.imread(osp.join(nyu_root, 'rgb', 'test', '000001.png'))[..., ::-1]
    depth = cv2.imread(osp.join(nyu_root, 'depth', 'test', '000001.png'),
                       cv2.IMREAD_UNCHANGED) / 1000.0
    label = cv2.imread(osp.join(nyu_root, 'label40', 'test', '000001.png'),
                       cv2.IMREAD_UNCHANGED).astype(int)
    label = np.where(label == 0, 255, label - 1)
    window = (slice(y1, y2), slice(x1, x2))
    np.testing.assert_array_equal(out['img'][..., :3],
                                  rgb[window][:, ::-1].astype(np.float32))
    np.testing.assert_allclose(out['img'][..., 3], depth[window][:, ::-1],
                               rtol=1e-6)
    np.testing.assert_array_equal(out['gt_seg_map'], label[window][:, ::-1])


def test_missing_and_mismatched_files(nyu_root, tmp_path):
    import shutil
    root = str(tmp_path / 'nyu')
    shutil.copytree(nyu_root, root)
    os.remove(osp.join(root, 'depth', 'test', '001407.png'))
    with pytest.raises(FileNotFoundError, match='001407.png'):
        NYUDv2Dataset(data_root=root, split='test')
    # a depth map of the other frame's size: both files and shapes named
    shutil.copy(osp.join(nyu_root, 'depth', 'test', '000001.png'),
                osp.join(root, 'depth', 'test', '001407.png'))
    ds = NYUDv2Dataset(
        data_root=root, split='test',
        pipeline=[dict(type='LoadMultiModalImages',
                       modalities=dict(rgb=3, depth=1))])
    with pytest.raises(ValueError) as err:
        ds[1]
    msg = str(err.value)
    assert 'rgb/test/001407.png' in msg and 'depth/test/001407.png' in msg
    assert '425x560' in msg and '480x640' in msg


def test_config_path_helper_exists():
    # the base configs ship inside the package
    assert callable(config_path)
    assert osp.isfile(osp.join(osp.dirname(__file__), '..', '..', CFG))

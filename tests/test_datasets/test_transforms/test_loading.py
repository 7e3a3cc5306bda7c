import os.path as osp

import cv2
import numpy as np
import pytest

from mm_incomplete.datasets.transforms import (LoadMultiModalAnnotations,
                                               LoadMultiModalImages)


def _write(path, arr):
    assert cv2.imwrite(str(path), arr)
    return str(path)


@pytest.fixture
def files(tmp_path):
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 10  # red in RGB order -> BGR file has it in channel 2
    depth = np.array([[0, 1000, 2500, 65535, 7]] * 4, np.uint16)
    return dict(
        rgb=_write(tmp_path / 'c.png', rgb[..., ::-1]),
        depth=_write(tmp_path / 'd.png', depth),
        label=_write(tmp_path / 'l.png', np.full((4, 5), 3, np.uint8)))


def test_units_channel_order_and_keys(files):
    out = LoadMultiModalImages(dict(rgb=3, depth=1))(
        dict(modality_paths=dict(rgb=files['rgb'], depth=files['depth'])))
    img = out['img']
    assert img.dtype == np.float32 and img.shape == (4, 5, 4)
    assert img[0, 0, :3].tolist() == [10.0, 0.0, 0.0]  # RGB order
    np.testing.assert_allclose(img[0, :, 3], [0, 1.0, 2.5, 65.535, 0.007],
                               rtol=1e-6)
    assert out['modalities'] == ('rgb', 'depth')
    assert out['modality_channels'] == (3, 1)
    assert out['img_path'] == files['rgb']
    assert out['ori_shape'] == (4, 5)


def test_max_depth_and_float_holes(tmp_path, files):
    arr = np.array([[np.nan, np.inf, -2.0, 1500.0]], np.float32)
    np.save(tmp_path / 'd.npy', arr)
    out = LoadMultiModalImages(dict(depth=1))(
        dict(modality_paths=dict(depth=str(tmp_path / 'd.npy'))))
    assert out['img'][0, :, 0].tolist() == [0.0, 0.0, 0.0, 1.5]
    out = LoadMultiModalImages(dict(depth=1), max_depth=10.0)(
        dict(modality_paths=dict(depth=files['depth'])))
    assert out['img'][0, 3, 0] == 0.0  # 65.5 m > max_depth -> hole


def test_missing_file_is_named(files, tmp_path):
    missing = str(tmp_path / 'nope.png')
    with pytest.raises(FileNotFoundError, match='nope.png'):
        LoadMultiModalImages(dict(rgb=3, depth=1))(
            dict(modality_paths=dict(rgb=files['rgb'], depth=missing)))
    with pytest.raises(KeyError, match="'depth'"):
        LoadMultiModalImages(dict(rgb=3, depth=1))(
            dict(modality_paths=dict(rgb=files['rgb'])))


def test_size_mismatch_names_both_files(files, tmp_path):
    small = _write(tmp_path / 'small.png', np.zeros((3, 5), np.uint16))
    with pytest.raises(ValueError) as err:
        LoadMultiModalImages(dict(rgb=3, depth=1))(
            dict(modality_paths=dict(rgb=files['rgb'], depth=small)))
    msg = str(err.value)
    assert 'c.png' in msg and 'small.png' in msg
    assert '4x5' in msg and '3x5' in msg


def test_wrong_dtype_and_channels(files, tmp_path):
    with pytest.raises(ValueError, match='uint16'):  # 8-bit depth
        LoadMultiModalImages(dict(depth=1))(
            dict(modality_paths=dict(depth=files['rgb'])))
    with pytest.raises(ValueError, match='8-bit'):  # 16-bit colour
        LoadMultiModalImages(dict(rgb=3))(
            dict(modality_paths=dict(rgb=files['depth'])))
    gray = _write(tmp_path / 'g.png', np.zeros((4, 5), np.uint8))
    with pytest.raises(ValueError, match='expects 3'):
        LoadMultiModalImages(dict(rgb=3))(
            dict(modality_paths=dict(rgb=gray)))
    with pytest.raises(ValueError, match='to_gray'):
        LoadMultiModalImages(dict(ir=1), depth_modalities=())(
            dict(modality_paths=dict(ir=files['rgb'])))
    out = LoadMultiModalImages(dict(ir=1), depth_modalities=(),
                               to_gray=('ir', ))(
                                   dict(modality_paths=dict(ir=files['rgb'])))
    np.testing.assert_allclose(out['img'][0, 0, 0], 0.299 * 10, rtol=1e-5)


def test_bad_options_name_the_option():
    with pytest.raises(ValueError, match='depth_modalities'):
        LoadMultiModalImages(dict(rgb=3), depth_modalities=('depth', ))
    with pytest.raises(ValueError, match='modalities'):
        LoadMultiModalImages('rgb')
    with pytest.raises(ValueError, match='depth_scale'):
        LoadMultiModalImages(dict(depth=1), depth_scale=0)


def test_annotations_reduce_zero_label_and_checks(files, tmp_path):
    lab = _write(tmp_path / 'lab.png', np.array([[0, 1, 40, 255]], np.uint8))
    out = LoadMultiModalAnnotations()(
        dict(seg_map_path=lab, reduce_zero_label=True))
    assert out['gt_seg_map'].tolist() == [[255, 0, 39, 255]]
    assert out['seg_fields'] == ['gt_seg_map']
    out = LoadMultiModalAnnotations()(
        dict(seg_map_path=lab, reduce_zero_label=False))
    assert out['gt_seg_map'].tolist() == [[0, 1, 40, 255]]
    # label size must match the modalities, naming both files
    loaded = LoadMultiModalImages(dict(rgb=3))(
        dict(modality_paths=dict(rgb=files['rgb'])))
    loaded['seg_map_path'] = lab
    with pytest.raises(ValueError) as err:
        LoadMultiModalAnnotations()(loaded)
    assert 'lab.png' in str(err.value) and 'c.png' in str(err.value)
    with pytest.raises(ValueError, match='single-channel'):
        LoadMultiModalAnnotations()(dict(seg_map_path=files['rgb']))
    with pytest.raises(FileNotFoundError, match='gone.png'):
        LoadMultiModalAnnotations()(
            dict(seg_map_path=osp.join(str(tmp_path), 'gone.png')))

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


NYU_MINI = '/work/shared/data/nyuv2_mini'
needs_mini = pytest.mark.skipif(not osp.isdir(NYU_MINI),
                                reason='real NYUv2 fixture not present')


@needs_mini
def test_float_depth_in_metres_needs_its_unit(tmp_path):
    """A real NYUv2 depth map saved as float metres (.npy): with the PNG
    default depth_scale=1000 it would become 1-4 mm; now an error names the
    file, the median and the scale, and depth_scale=1 loads it right."""
    mm = cv2.imread(osp.join(NYU_MINI, '0001', 'depth_mm.png'),
                    cv2.IMREAD_UNCHANGED)
    metres = mm.astype(np.float32) / 1000
    path = str(tmp_path / 'depth_m.npy')
    np.save(path, metres)
    with pytest.raises(ValueError) as err:
        LoadMultiModalImages(dict(depth=1))(
            dict(modality_paths=dict(depth=path)))
    msg = str(err.value)
    assert path in msg and 'depth_scale=1000' in msg
    assert 'needs depth_scale=1' in msg and 'median depth 0.00' in msg
    out = LoadMultiModalImages(dict(depth=1), depth_scale=1)(
        dict(modality_paths=dict(depth=path)))
    png = LoadMultiModalImages(dict(depth=1))(
        dict(modality_paths=dict(depth=osp.join(NYU_MINI, '0001',
                                                'depth_mm.png'))))
    np.testing.assert_allclose(out['img'], png['img'], rtol=1e-6)
    assert 1.0 < float(np.median(png['img'])) < 5.0  # an indoor room


def test_depth_unit_check_options(tmp_path):
    tenth_mm = _write(tmp_path / 'd.png', np.full((4, 5), 60000, np.uint16))
    with pytest.raises(ValueError, match='median depth 60 m'):
        LoadMultiModalImages(dict(depth=1))(
            dict(modality_paths=dict(depth=tenth_mm)))
    out = LoadMultiModalImages(dict(depth=1), depth_scale=10000)(
        dict(modality_paths=dict(depth=tenth_mm)))
    assert out['img'][0, 0, 0] == pytest.approx(6.0)
    out = LoadMultiModalImages(dict(depth=1), depth_median_range=None)(
        dict(modality_paths=dict(depth=tenth_mm)))
    assert out['img'][0, 0, 0] == pytest.approx(60.0)
    holes = _write(tmp_path / 'h.png', np.zeros((4, 5), np.uint16))
    LoadMultiModalImages(dict(depth=1))(  # all holes: nothing to judge
        dict(modality_paths=dict(depth=holes)))
    with pytest.raises(ValueError, match='depth_median_range'):
        LoadMultiModalImages(dict(depth=1), depth_median_range=(5, 1))


@needs_mini
def test_out_of_range_label_names_file_and_ids(tmp_path):
    """NYU-40 ids of a real frame against a 13-class dataset: an error that
    names the file and the offending ids, not a bare IndexError in the loss
    or pixels silently dropped by the metric."""
    lab = osp.join(NYU_MINI, '0001', 'label40.png')
    raw = cv2.imread(lab, cv2.IMREAD_UNCHANGED)
    results = dict(seg_map_path=lab, reduce_zero_label=True, num_classes=13,
                   ignore_index=255)
    with pytest.raises(ValueError) as err:
        LoadMultiModalAnnotations()(dict(results))
    msg = str(err.value)
    want = sorted(int(v) - 1 for v in np.unique(raw) if v > 13)[:10]
    assert lab in msg and f'{want}' in msg and 'outside 0..12' in msg
    out = LoadMultiModalAnnotations()(dict(results, num_classes=40))
    ok = out['gt_seg_map'][out['gt_seg_map'] != 255]
    assert ok.max() <= 39


def test_dataset_passes_its_class_count_to_the_loader(tmp_path):
    from mm_incomplete.datasets import MultiModalSegDataset
    for d in ('rgb/train', 'depth/train', 'label/train'):
        (tmp_path / d).mkdir(parents=True)
    _write(tmp_path / 'rgb/train/a.png', np.zeros((4, 5, 3), np.uint8))
    _write(tmp_path / 'depth/train/a.png', np.full((4, 5), 900, np.uint16))
    _write(tmp_path / 'label/train/a.png', np.array([[0, 1, 2, 7, 255]] * 4,
                                                    np.uint8))
    ds = MultiModalSegDataset(
        dict(rgb=3, depth=1), data_root=str(tmp_path),
        metainfo=dict(classes=('a', 'b', 'c')),
        pipeline=[LoadMultiModalImages(dict(rgb=3, depth=1)),
                  LoadMultiModalAnnotations()])
    assert ds.get_data_info(0)['num_classes'] == 3
    with pytest.raises(ValueError, match=r'a.png has class id\(s\) \[7\]'):
        ds[0]


def test_decode_modality_from_path_or_array_is_the_same(files):
    load = LoadMultiModalImages(dict(rgb=3, depth=1), max_depth=10.0)
    depth_file = load.decode_modality('depth', files['depth'])
    depth_raw = cv2.imread(files['depth'], cv2.IMREAD_UNCHANGED)
    depth_arr = load.decode_modality('depth', depth_raw)
    np.testing.assert_array_equal(depth_file, depth_arr)
    assert depth_arr.shape == (4, 5, 1)
    # mm -> m, 65.535 m beyond max_depth -> hole
    assert depth_arr[0, :, 0].tolist() == pytest.approx(
        [0.0, 1.0, 2.5, 0.0, 0.007])
    rgb_file = load.decode_modality('rgb', files['rgb'])
    rgb_arr = load.decode_modality('rgb', cv2.imread(files['rgb'])[..., ::-1])
    np.testing.assert_array_equal(rgb_file, rgb_arr)
    assert rgb_arr[0, 0].tolist() == [10.0, 0.0, 0.0]  # RGB order
    with pytest.raises(ValueError, match=r"'depth' file \(array input\) is "
                       'uint8'):
        load.decode_modality('depth', np.zeros((4, 5), np.uint8))
    with pytest.raises(ValueError, match="'rgb' file .* has 1 channel"):
        load.decode_modality('rgb', np.zeros((4, 5), np.uint8))
    with pytest.raises(KeyError, match="'ir' is not a modality"):
        load.decode_modality('ir', files['rgb'])

"""Run the SUN RGB-D converter on tiny files with the toolbox's structure."""
import importlib.util
import os
import os.path as osp

import cv2
import h5py
import numpy as np
import pytest
import scipy.io

from mm_incomplete.datasets import SUNRGBDDataset
from mm_incomplete.datasets.transforms import (LoadMultiModalAnnotations,
                                               LoadMultiModalImages)

TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools',
                'dataset_converters', 'sunrgbd.py')
spec = importlib.util.spec_from_file_location('sunrgbd_converter', TOOL)
sun = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sun)

AUTHORS = '/n/fs/sun3d/data/SUNRGBD/'
# (frame folder inside SUNRGBD/, rgb name, depth name, H, W, split);
# sizes differ per sensor and H != W, so a missing transpose cannot pass.
FRAMES = [
    ('kv1/NYUdata/NYU0001', 'NYU0001.jpg', 'NYU0001.png', 5, 7, 'test'),
    ('kv2/kinect2data/000002_rgbf000103-resize', '0000103.jpg',
     '0000103.png', 6, 4, 'train'),
    ('realsense/lg/2014_10_24-14_52_00-1311000073', '0000020.jpg',
     '0000020.png', 5, 7, 'train'),
]


def encode(d_mm):
    """SUN RGB-D's storage: depth in mm rotated left by 3 bits."""
    d = d_mm.astype(np.uint32)
    return (((d << 3) | (d >> 13)) & 0xFFFF).astype(np.uint16)


def write_seg_mat(path, labels, dtype=h5py.ref_dtype):
    """MATLAB v7.3 struct ``SUNRGBD2Dseg`` with a ``seglabel`` cell each."""
    with h5py.File(path, 'w') as f:
        refs = f.create_group('#refs#')
        seg = f.create_group('SUNRGBD2Dseg')
        ds = seg.create_dataset('seglabel', (len(labels), 1), dtype=dtype)
        for i, lab in enumerate(labels):
            refs[f'l{i}'] = lab.T.astype(np.float64)  # stored (W, H)
            if dtype == h5py.ref_dtype:
                ds[i, 0] = refs[f'l{i}'].ref


def write_meta_mat(path, frames, field='rgbpath'):
    meta = np.zeros((1, len(frames)),
                    dtype=[(field, object), ('depthpath', object)])
    for i, (folder, rgb, depth, *_) in enumerate(frames):
        meta[0, i] = (AUTHORS + folder + '/image/' + rgb,
                      AUTHORS + folder + '/depth/' + depth)
    scipy.io.savemat(path, dict(SUNRGBDMeta=meta))


def write_split_mat(path, train, test):
    scipy.io.savemat(path, dict(
        alltrain=np.array([AUTHORS + f for f in train], dtype=object),
        alltest=np.array([AUTHORS + f + '/' for f in test], dtype=object)))


@pytest.fixture
def release(tmp_path):
    rng = np.random.default_rng(0)
    root, toolbox = tmp_path / 'SUNRGBD', tmp_path / 'SUNRGBDtoolbox'
    frames = []
    for folder, rgb_name, depth_name, h, w, split in FRAMES:
        d = osp.join(root, folder)
        for sub in ('image', 'depth', 'depth_bfx'):
            os.makedirs(osp.join(d, sub))
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        cv2.imwrite(osp.join(d, 'image', rgb_name), rgb)
        filled = rng.integers(500, 12000, (h, w)).astype(np.uint16)
        filled[0, 0] = 9000  # > 8191 mm: the rotation wraps its high bits
        raw = filled.copy()
        raw[0, :] = 0
        cv2.imwrite(osp.join(d, 'depth_bfx', depth_name), encode(filled))
        cv2.imwrite(osp.join(d, 'depth', depth_name), encode(raw))
        label = rng.integers(0, 38, (h, w)).astype(np.uint8)
        label[0, 0], label[-1, -1] = 0, 37
        frames.append(dict(folder=folder, rgb_name=rgb_name, split=split,
                           filled=filled, raw=raw, label=label))
    os.makedirs(toolbox / 'Metadata')
    os.makedirs(toolbox / 'traintestSUNRGBD')
    write_meta_mat(str(toolbox / sun.META_MAT), FRAMES)
    write_seg_mat(str(toolbox / sun.SEG_MAT), [f['label'] for f in frames])
    write_split_mat(str(toolbox / sun.SPLIT_MAT),
                    [f[0] for f in FRAMES if f[5] == 'train'],
                    [f[0] for f in FRAMES if f[5] == 'test'])
    return dict(root=str(root), toolbox=str(toolbox), frames=frames)


def read(path):
    return cv2.imread(path, cv2.IMREAD_UNCHANGED)


def test_decode_depth_by_hand():
    stored = np.array([[0, 1234 << 3, 9, 65535]], np.uint16)
    # 9 = 0b1001: bits 0..2 came from d >> 13 (1), bit 3 from d << 3 (1)
    assert sun.decode_depth(stored).tolist() == [[0, 1234, 8193, 65535]]


def test_convert_layout_units_labels_and_split(release, tmp_path):
    out = str(tmp_path / 'out')
    assert sun.main([release['root'], release['toolbox'], '-o', out,
                     '--no-progress']) == 0
    for idx, fr in enumerate(release['frames'], 1):
        split, name = fr['split'], f'{idx:06d}'
        other = 'train' if split == 'test' else 'test'
        assert not osp.exists(osp.join(out, 'rgb', other, name + '.jpg'))
        with open(osp.join(release['root'], fr['folder'], 'image',
                           fr['rgb_name']), 'rb') as src, \
                open(osp.join(out, 'rgb', split, name + '.jpg'), 'rb') as dst:
            assert src.read() == dst.read()  # the JPEG is copied, not redone
        depth = read(osp.join(out, 'depth', split, name + '.png'))
        assert depth.dtype == np.uint16
        np.testing.assert_array_equal(depth, fr['filled'])  # plain mm
        label = read(osp.join(out, 'label37', split, name + '.png'))
        assert label.dtype == np.uint8
        np.testing.assert_array_equal(label, fr['label'])
    # median-frequency class weights of the train split, next to the data
    import json
    rec = json.load(open(osp.join(out, 'class_weights_label37.json')))
    assert len(rec['weights']) == 37 and rec['images'] == sum(
        fr['split'] == 'train' for fr in release['frames'])

    # the dataset reads it back: depth in metres, 0 -> 255, k -> k - 1
    ds = SUNRGBDDataset(
        data_root=out, split='train',
        pipeline=[LoadMultiModalImages(dict(rgb=3, depth=1)),
                  LoadMultiModalAnnotations()])
    assert len(ds) == 2
    assert len(SUNRGBDDataset(data_root=out, split='test')) == 1
    res, fr = ds[0], release['frames'][1]  # 000002 is the first train frame
    np.testing.assert_allclose(res['img'][..., 3], fr['filled'] / 1000.0,
                               rtol=1e-6)
    expect = np.where(fr['label'] == 0, 255, fr['label'].astype(int) - 1)
    np.testing.assert_array_equal(res['gt_seg_map'], expect)
    assert res['gt_seg_map'][0, 0] == 255 and res['gt_seg_map'][-1, -1] == 36


def test_raw_depth_keeps_holes(release, tmp_path):
    out = str(tmp_path / 'raw')
    counts = sun.convert(release['root'], release['toolbox'], out,
                         raw_depth=True, progress=False)
    assert counts == dict(train=2, test=1)
    depth = read(osp.join(out, 'depth', 'test', '000001.png'))
    np.testing.assert_array_equal(depth, release['frames'][0]['raw'])
    assert (depth[0] == 0).all() and (depth[1:] > 0).all()


def test_bad_inputs_are_named(release, tmp_path):
    root, tb, out = release['root'], release['toolbox'], str(tmp_path / 'o')
    os.remove(osp.join(tb, sun.SPLIT_MAT))
    with pytest.raises(FileNotFoundError, match='allsplit.mat'):
        sun.convert(root, tb, out, progress=False)
    # a frame in neither list
    write_split_mat(osp.join(tb, sun.SPLIT_MAT), [FRAMES[1][0]],
                    [FRAMES[0][0]])
    with pytest.raises(ValueError, match='neither `alltrain` nor `alltest`'):
        sun.convert(root, tb, out, progress=False)
    write_split_mat(osp.join(tb, sun.SPLIT_MAT),
                    [FRAMES[1][0], FRAMES[2][0]], [FRAMES[0][0]])
    # labels beyond 37
    labels = [f['label'].copy() for f in release['frames']]
    labels[2][1, 1] = 38
    write_seg_mat(osp.join(tb, sun.SEG_MAT), labels)
    with pytest.raises(ValueError, match=r'seglabel\(3\).*0\.\.37'):
        sun.convert(root, tb, out, progress=False)
    # a label map whose size disagrees with the images names both
    labels[2] = np.zeros((4, 4), np.uint8)
    write_seg_mat(osp.join(tb, sun.SEG_MAT), labels)
    with pytest.raises(ValueError, match='0000020.jpg.*0000020.png'):
        sun.convert(root, tb, out, progress=False)
    # not the MATLAB cell-of-references structure
    write_seg_mat(osp.join(tb, sun.SEG_MAT), labels, dtype=np.float64)
    with pytest.raises(ValueError, match='object references'):
        sun.convert(root, tb, out, progress=False)
    # missing field of SUNRGBDMeta
    write_meta_mat(osp.join(tb, sun.META_MAT), FRAMES, field='rgbname')
    with pytest.raises(KeyError, match="SUNRGBDMeta.*'rgbpath'"):
        sun.convert(root, tb, out, progress=False)
    # a missing depth file is named
    write_meta_mat(osp.join(tb, sun.META_MAT), FRAMES)
    write_seg_mat(osp.join(tb, sun.SEG_MAT),
                  [f['label'] for f in release['frames']])
    os.remove(osp.join(root, FRAMES[1][0], 'depth_bfx', FRAMES[1][2]))
    with pytest.raises(FileNotFoundError, match='depth_bfx/0000103.png'):
        sun.convert(root, tb, out, progress=False)


def test_seg_mat_without_seglabel(release, tmp_path):
    with h5py.File(osp.join(release['toolbox'], sun.SEG_MAT), 'w') as f:
        f['other'] = np.zeros(3)
    with pytest.raises(KeyError, match='SUNRGBD2Dseg/seglabel'):
        sun.convert(release['root'], release['toolbox'],
                    str(tmp_path / 'o'), progress=False)

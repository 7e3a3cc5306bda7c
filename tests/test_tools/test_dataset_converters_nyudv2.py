"""Run the NYUDv2 converter on tiny files with the official structure."""
import importlib.util
import os.path as osp

import cv2
import h5py
import numpy as np
import pytest
import scipy.io

from mm_incomplete.datasets import NYU40_TO_13, NYUDv2Dataset

TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools',
                'dataset_converters', 'nyudv2.py')
spec = importlib.util.spec_from_file_location('nyudv2_converter', TOOL)
nyu = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nyu)

N, H, W = 3, 5, 7  # H != W so a missing transpose cannot pass


@pytest.fixture
def mats(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (N, H, W, 3), dtype=np.uint8)
    depth = rng.uniform(0.5, 9.0, (N, H, W)).astype(np.float32)
    raw_depth = depth.copy()
    raw_depth[:, 0, :] = 0
    labels = rng.integers(0, 895, (N, H, W)).astype(np.uint16)
    labeled = str(tmp_path / 'nyu_depth_v2_labeled.mat')
    with h5py.File(labeled, 'w') as f:  # MATLAB v7.3: arrays transposed
        f['images'] = rgb.transpose(0, 3, 2, 1)  # (N, 3, W, H)
        f['depths'] = depth.transpose(0, 2, 1)
        f['rawDepths'] = raw_depth.transpose(0, 2, 1)
        f['labels'] = labels.transpose(0, 2, 1)
    map_class = rng.integers(1, 41, (1, 894))
    mapping = str(tmp_path / 'classMapping40.mat')
    scipy.io.savemat(mapping, dict(mapClass=map_class))
    splits = str(tmp_path / 'splits.mat')
    scipy.io.savemat(splits, dict(trainNdxs=np.array([[1], [3]]),
                                  testNdxs=np.array([[2]])))
    return dict(labeled=labeled, mapping=mapping, splits=splits, rgb=rgb,
                depth=depth, raw_depth=raw_depth, labels=labels,
                map_class=map_class.ravel())


def test_convert_layout_units_and_labels(mats, tmp_path):
    out = str(tmp_path / 'out')
    assert nyu.main([mats['labeled'], mats['mapping'], mats['splits'], '-o',
                     out, '--no-progress']) == 0
    for split, idx in (('train', 1), ('train', 3), ('test', 2)):
        name = f'{idx:06d}.png'
        rgb = cv2.imread(osp.join(out, 'rgb', split, name))[..., ::-1]
        np.testing.assert_array_equal(rgb, mats['rgb'][idx - 1])
        depth = cv2.imread(osp.join(out, 'depth', split, name),
                           cv2.IMREAD_UNCHANGED)
        assert depth.dtype == np.uint16
        np.testing.assert_array_equal(
            depth, np.rint(mats['depth'][idx - 1] * 1000))
        l40 = cv2.imread(osp.join(out, 'label40', split, name),
                         cv2.IMREAD_UNCHANGED)
        raw = mats['labels'][idx - 1].astype(int)
        expect = np.where(raw > 0, mats['map_class'][raw - 1], 0)
        np.testing.assert_array_equal(l40, expect)
        l13 = cv2.imread(osp.join(out, 'label13', split, name),
                         cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(l13, np.array(NYU40_TO_13)[expect])
    # the dataset class reads what the converter wrote
    ds = NYUDv2Dataset(data_root=out, split='train')
    assert len(ds) == 2
    # class weights of the train split, next to the data
    import json
    rec = json.load(open(osp.join(out, 'class_weights_label40.json')))
    assert rec['images'] == 2 and len(rec['weights']) == 40
    assert osp.isfile(osp.join(out, 'class_weights_label13.json'))


def test_raw_depth_keeps_holes(mats, tmp_path):
    out = str(tmp_path / 'raw')
    nyu.convert(mats['labeled'], mats['mapping'], mats['splits'], out,
                raw_depth=True, progress=False)
    depth = cv2.imread(osp.join(out, 'depth', 'test', '000002.png'),
                       cv2.IMREAD_UNCHANGED)
    assert (depth[0] == 0).all() and (depth[1:] > 0).all()


def test_bad_inputs_are_named(mats, tmp_path):
    with pytest.raises(FileNotFoundError, match='nothere.mat'):
        nyu.convert(str(tmp_path / 'nothere.mat'), mats['mapping'],
                    mats['splits'], str(tmp_path / 'o'), progress=False)
    bad = str(tmp_path / 'bad_splits.mat')
    scipy.io.savemat(bad, dict(trainNdxs=np.array([[1], [9]]),
                               testNdxs=np.array([[2]])))
    with pytest.raises(ValueError, match='outside 1..3'):
        nyu.convert(mats['labeled'], mats['mapping'], bad,
                    str(tmp_path / 'o'), progress=False)
    wrong = str(tmp_path / 'wrong_map.mat')
    scipy.io.savemat(wrong, dict(other=np.zeros(3)))
    with pytest.raises(KeyError, match='mapClass'):
        nyu.convert(mats['labeled'], wrong, mats['splits'],
                    str(tmp_path / 'o'), progress=False)


@pytest.mark.parametrize('train, test, match', [
    ([[1], [2]], [[2]], r'1 frame\(s\) are in both .* leak.*\[2\]'),
    ([[1], [1]], [[2]], r'`trainNdxs` repeats frames \[1\]'),
    ([[1], [3]], np.zeros((0, 1)), '`testNdxs` is empty'),
])
def test_overlapping_duplicate_or_empty_splits_are_refused(
        mats, tmp_path, train, test, match):
    splits = str(tmp_path / 'splits_bad.mat')
    scipy.io.savemat(splits, dict(trainNdxs=np.array(train),
                                  testNdxs=np.array(test)))
    out = tmp_path / 'o'
    with pytest.raises(ValueError, match=match) as err:
        nyu.convert(mats['labeled'], mats['mapping'], splits, str(out),
                    progress=False)
    assert splits in str(err.value)
    assert not out.exists()  # refused before writing anything


def test_non_empty_output_is_refused_or_cleared(mats, tmp_path):
    out = tmp_path / 'out'
    nyu.convert(mats['labeled'], mats['mapping'], mats['splits'], str(out),
                progress=False)
    stale = out / 'rgb' / 'train' / '000099.png'
    stale.write_bytes(b'stale frame of an earlier conversion')
    with pytest.raises(FileExistsError, match=f'{out}.*--overwrite'):
        nyu.convert(mats['labeled'], mats['mapping'], mats['splits'],
                    str(out), progress=False)
    assert stale.exists()
    assert nyu.main([mats['labeled'], mats['mapping'], mats['splits'], '-o',
                     str(out), '--no-progress', '--overwrite']) == 0
    assert not stale.exists()
    assert sorted(p.name for p in (out / 'rgb' / 'train').iterdir()) == [
        '000001.png', '000003.png']


def test_unreadable_mat_files_are_named(mats, tmp_path):
    truncated = tmp_path / 'classMapping40_truncated.mat'
    truncated.write_bytes(open(mats['mapping'], 'rb').read()[:150])
    with pytest.raises(ValueError, match=f'cannot read {truncated}'):
        nyu.convert(mats['labeled'], str(truncated), mats['splits'],
                    str(tmp_path / 'o'), progress=False)
    broken = tmp_path / 'labeled_truncated.mat'
    broken.write_bytes(open(mats['labeled'], 'rb').read()[:2000])
    with pytest.raises(ValueError, match=f'cannot read {broken}'):
        nyu.convert(str(broken), mats['mapping'], mats['splits'],
                    str(tmp_path / 'o'), progress=False)

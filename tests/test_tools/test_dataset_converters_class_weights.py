"""tools/dataset_converters/class_weights.py: median frequency by hand."""
import importlib.util
import json
import os.path as osp

import cv2
import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
spec = importlib.util.spec_from_file_location(
    'class_weights', osp.join(REPO, 'tools/dataset_converters/class_weights.py'))
cw = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cw)


def test_median_frequency_by_hand(tmp_path):
    # two 2x2 maps, 0 = void, classes 1..3 (class 3 absent)
    a = np.array([[1, 1], [1, 2]], np.uint8)    # c1: 3 px, c2: 1 px
    b = np.array([[0, 2], [2, 2]], np.uint8)    # c2: 3 px, one void
    for name, lab in (('000001', a), ('000002', b)):
        cv2.imwrite(str(tmp_path / f'{name}.png'), lab)
    out = str(tmp_path / 'w.json')
    rec = cw.main([str(tmp_path), '--num-classes', '3', '-o', out])
    # freq_1 = 3 / 4 (only image a has class 1); freq_2 = 4 / 8
    f1, f2 = 3 / 4, 4 / 8
    med = np.median([f1, f2])
    assert rec['weights'] == pytest.approx([med / f1, med / f2, 0.0])
    assert rec['absent_classes'] == [2] and rec['pixels'] == [3, 4, 0]
    assert json.load(open(out))['weights'] == rec['weights']


def test_void_255_and_out_of_range_ids(tmp_path):
    counts = cw.class_pixel_counts(
        [np.array([[0, 255], [1, 1]], np.uint8)], 2, void=255)
    assert counts['pixels'].tolist() == [1, 2]
    with pytest.raises(ValueError, match='do not fit 2 classes'):
        cw.class_pixel_counts([np.array([[3]], np.uint8)], 2, void=0)
    with pytest.raises(FileNotFoundError, match='no \\*.png'):
        cw.compute(str(tmp_path), 2)

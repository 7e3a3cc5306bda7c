"""tools/demo.py: the chance score it draws next to the results."""
import importlib.util
import os.path as osp

import cv2
import numpy as np
import pytest

TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'demo.py')


@pytest.fixture(scope='module')
def demo():
    spec = importlib.util.spec_from_file_location('demo', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Labels:
    """The part of a seg dataset majority_class_miou reads."""
    ignore_index = 255
    metainfo = dict(classes=('floor', 'a', 'b', 'c'))

    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def get_data_info(self, i):
        return dict(seg_map_path=self.paths[i])


def test_majority_class_miou_by_hand(demo, tmp_path):
    a = np.array([[0, 0], [0, 1]], np.uint8)  # 3 floor, 1 of class a
    b = np.array([[0, 255], [2, 0]], np.uint8)  # 2 floor, 1 b, 1 ignored
    paths = []
    for name, label in (('a', a), ('b', b)):
        paths.append(str(tmp_path / f'{name}.png'))
        cv2.imwrite(paths[-1], label)
    # floor everywhere: IoU(floor) = 5 / 7 valid pixels; classes a, b score
    # 0; class c is absent from labels and predictions (not averaged)
    assert demo.majority_class_miou(_Labels(paths)) == pytest.approx(
        100 * 5 / 7 / 3)
    with pytest.raises(FileNotFoundError, match='missing'):
        demo.majority_class_miou(_Labels([str(tmp_path / 'missing.png')]))

"""Shared fixtures: the real NYUv2 frames in our on-disk layout."""
import os
import os.path as osp
import shutil

import cv2
import pytest

import mm_incomplete  # noqa: F401  (registers everything)

MINI = '/work/shared/data/nyuv2_mini'
FRAMES = {'000001': '0001', '001407': '1407'}


@pytest.fixture(scope='session')
def nyu_root(tmp_path_factory):
    """data_root with rgb/, depth/ (raw, 0 = hole), label40/, label13/ for
    the two real frames, both in the ``test`` split."""
    if not osp.isdir(MINI):
        pytest.skip(f'fixture {MINI} not available')
    root = str(tmp_path_factory.mktemp('nyudv2'))
    for d in ('rgb', 'depth', 'label40', 'label13'):
        os.makedirs(osp.join(root, d, 'test'))
    for name, folder in FRAMES.items():
        src = osp.join(MINI, folder)
        rgb = osp.join(src, 'rgb.png')
        if not osp.exists(rgb):
            rgb = osp.join(src, 'rgb.jpg')
        cv2.imwrite(osp.join(root, 'rgb', 'test', name + '.png'),
                    cv2.imread(rgb, cv2.IMREAD_COLOR))
        shutil.copy(osp.join(src, 'depth_raw_mm.png'),
                    osp.join(root, 'depth', 'test', name + '.png'))
        for k in ('40', '13'):
            shutil.copy(osp.join(src, f'label{k}.png'),
                        osp.join(root, f'label{k}', 'test', name + '.png'))
    return root

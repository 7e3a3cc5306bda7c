import os.path as osp
import sys

import pytest

# the tests import the tiny-run helpers from _tiny_runs.py next to this file
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    """Folder the tiny runs generate their synthetic images into (once)."""
    return str(tmp_path_factory.mktemp('synthetic_rgbd_seg'))

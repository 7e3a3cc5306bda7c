import os.path as osp
import sys

import pytest
import torch

# the tests import their tiny configs from _builders.py next to them
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny convolutions on shared cores: threads only add contention."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

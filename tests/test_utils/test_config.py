import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from mm_incomplete.utils import CONFIG_ROOT, config_path

EXPR = ("__import__('importlib.util').util.find_spec('mm_incomplete')"
        ".submodule_search_locations[0] + '/configs/{}'")


def test_config_path():
    assert config_path('_base_/default_runtime_seg.py') == osp.join(
        CONFIG_ROOT, '_base_', 'default_runtime_seg.py')
    with pytest.raises(FileNotFoundError, match='no config'):
        config_path('nope/nothing.py')


def test_inherit_shipped_config_from_elsewhere(tmp_path):
    user = tmp_path / 'my_cfg.py'
    user.write_text(f'_base_ = [{EXPR.format("_base_/default_runtime_seg.py")}]'
                    '\nrandomness = dict(seed=7)\n')
    cfg = Config.fromfile(str(user))
    assert cfg.default_scope == 'mmseg'
    assert cfg.custom_imports.imports == ['mm_incomplete']
    assert cfg.randomness.seed == 7


def test_cli_prints_path():
    out = subprocess.run(
        [sys.executable, '-m', 'mm_incomplete.utils.config',
         '_base_/default_runtime_cls.py'],
        capture_output=True, text=True, check=True).stdout.strip()
    assert out == config_path('_base_/default_runtime_cls.py')

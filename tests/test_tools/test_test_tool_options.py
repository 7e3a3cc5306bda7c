"""tools/test.py option handling that needs no trained model."""
import importlib.util
import os.path as osp

import pytest
from mmengine.config import Config

from mm_incomplete.utils import config_path

TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'test.py')
spec = importlib.util.spec_from_file_location('test_tool', TOOL)
test_tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(test_tool)

CFG = 'baselines/multi_branch_moddrop_synthetic_seg_cpu.py'


@pytest.mark.parametrize('value', ['', ',', ' ', ' , '])
def test_empty_modalities_is_an_error(value):
    """``--modalities ""`` used to evaluate every combination silently."""
    args = test_tool.parse_args([config_path(CFG), 'x.pth', '--modalities',
                                 value])
    assert args.modalities == value
    cfg = Config.fromfile(config_path(CFG))
    with pytest.raises(ValueError, match='names no combination'):
        test_tool.set_combinations(cfg, args.modalities)
    with pytest.raises(ValueError, match='--modalities'):
        test_tool.main([config_path(CFG), __file__, '--modalities', value,
                        '--work-dir', '/nonexistent/never/created'])


def test_modalities_given_reach_the_loop():
    cfg = Config.fromfile(config_path(CFG))
    test_tool.set_combinations(cfg, 'rgb,depth')
    assert cfg.test_cfg['combinations'] == 'rgb,depth'

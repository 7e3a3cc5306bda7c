"""Default work dirs are unique per shipped config."""
import glob
import os.path as osp

from mmengine.config import Config

from mm_incomplete.utils import CONFIG_ROOT
from mm_incomplete.utils.launch import default_work_dir, set_work_dir


def test_method_configs_of_the_same_name_get_different_work_dirs():
    dmrnet = default_work_dir(osp.join(CONFIG_ROOT, 'dmrnet',
                                       'synthetic_seg_cpu.py'))
    mmanet = default_work_dir(osp.join(CONFIG_ROOT, 'mmanet',
                                       'synthetic_seg_cpu.py'))
    assert dmrnet == './work_dirs/dmrnet/synthetic_seg_cpu'
    assert mmanet == './work_dirs/mmanet/synthetic_seg_cpu'


def test_every_shipped_config_has_its_own_work_dir():
    configs = [p for p in glob.glob(osp.join(CONFIG_ROOT, '**', '*.py'),
                                    recursive=True) if '_base_' not in p]
    assert len(configs) > 10
    dirs = [default_work_dir(p) for p in configs]
    assert len(set(dirs)) == len(dirs)


def test_outside_configs_and_explicit_choices(tmp_path):
    mine = tmp_path / 'my_cfg.py'
    mine.write_text('model = dict()\n')
    assert default_work_dir(str(mine)) == './work_dirs/my_cfg'
    cfg = Config(dict(model=dict()))
    set_work_dir(cfg, str(mine), 'given')
    assert cfg.work_dir == 'given'
    cfg = Config(dict(model=dict(), work_dir='from_cfg'))
    set_work_dir(cfg, str(mine), None)
    assert cfg.work_dir == 'from_cfg'

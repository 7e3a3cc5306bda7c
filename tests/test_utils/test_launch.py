"""Launch set-up: default work dirs unique per shipped config; Slurm
variables turned into torch.distributed's without CUDA."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mm_incomplete.utils import CONFIG_ROOT
from mm_incomplete.utils.launch import (default_work_dir, first_slurm_host,
                                        set_work_dir, slurm_to_torch_env)


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


# -- Slurm variables to torch.distributed's, without CUDA ------------------

@pytest.mark.parametrize('nodes, first', [
    ('localhost', 'localhost'),
    ('gpu3,gpu4', 'gpu3'),
    ('node[07-09,12]', 'node07'),
    ('node[12,07-09],other[1-2]', 'node12'),
    ('a-b[001-004]', 'a-b001'),
])
def test_first_slurm_host(nodes, first):
    assert first_slurm_host(nodes) == first


def test_first_slurm_host_rejects_empty():
    with pytest.raises(ValueError, match='SLURM_NODELIST is empty'):
        first_slurm_host(' ')


def test_slurm_to_torch_env_as_srun_sets_it(monkeypatch):
    monkeypatch.setenv('PATH', '/nonexistent')  # no scontrol here
    env = dict(SLURM_PROCID='3', SLURM_NTASKS='4', SLURM_LOCALID='1',
               SLURM_NODELIST='cn[5-6]')
    out = slurm_to_torch_env(env)
    assert out == dict(RANK='3', WORLD_SIZE='4', LOCAL_RANK='1',
                       MASTER_ADDR='cn5', MASTER_PORT='29500')
    assert env['RANK'] == '3'  # written into the given environment


def test_slurm_to_torch_env_keeps_given_master(monkeypatch):
    env = dict(SLURM_PROCID='0', SLURM_NTASKS='2', SLURM_NODELIST='x',
               MASTER_ADDR='10.0.0.1', MASTER_PORT='1234')
    out = slurm_to_torch_env(env)
    assert (out['MASTER_ADDR'], out['MASTER_PORT']) == ('10.0.0.1', '1234')
    assert out['LOCAL_RANK'] == '0'  # no SLURM_LOCALID: the rank


def test_slurm_to_torch_env_errors_name_the_variable():
    with pytest.raises(KeyError, match='SLURM_NTASKS'):
        slurm_to_torch_env(dict(SLURM_PROCID='0', SLURM_NODELIST='x'))
    with pytest.raises(ValueError, match='SLURM_PROCID=2 is not below'):
        slurm_to_torch_env(dict(SLURM_PROCID='2', SLURM_NTASKS='2',
                                SLURM_NODELIST='x'))

"""A shipped config shrunk to a few iterations on a few synthetic images.

Shared by the runner and hook tests that need a real training run (layout
order, bit-exact resume, checkpoint loading). No data loader workers, so the
data transforms draw from the main process's generators (the hardest case
for an exact resume).
"""
import os
import os.path as osp

from mmengine.config import Config

from mm_incomplete.engine import MultiModalRunner
from mm_incomplete.utils import config_path


def tiny_config(name: str, work_dir: str, data_root: str, max_iters: int = 4,
                interval: int = 2, **overrides) -> Config:
    """``name`` (e.g. ``'dmrnet/synthetic_seg_cpu.py'``) with 8 training
    images of the synthetic set, batch 2, validation and a checkpoint every
    ``interval`` iterations (all kept)."""
    cfg = Config.fromfile(config_path(name))
    small = dict(data_root=data_root, num_train=8, num_val=2, num_test=2)
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        loader.dataset.update(small)
    cfg.train_cfg.update(max_iters=max_iters, val_interval=interval)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=interval, max_keep_ckpts=-1,
                                        save_best=None)
    cfg.work_dir = work_dir
    cfg.merge_from_dict(overrides)
    return cfg


def build_runner(cfg: Config) -> MultiModalRunner:
    """Build from a config as tools/train.py does (``runner_type``), from
    the config's folder-independent work dir."""
    assert cfg.get('runner_type') == 'MultiModalRunner'
    os.makedirs(cfg.work_dir, exist_ok=True)
    return MultiModalRunner.from_cfg(cfg)


def ckpt(work_dir: str, step: int) -> str:
    return osp.join(work_dir, f'iter_{step}.pth')

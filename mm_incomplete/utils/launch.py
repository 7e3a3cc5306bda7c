"""What tools/train.py and tools/test.py share: config set-up for a launch.

Segmentation and classification go through the same tools; the task follows
from the config's ``default_scope``.
"""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence

import torch
from mmengine.config import Config, DictAction


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config file (errors name the file) and merge ``--cfg-options``."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if 'model' not in cfg:
        raise KeyError(f'config {path} defines no `model`')
    return cfg


def default_work_dir(config_path: str) -> str:
    """``./work_dirs/<method folder>/<config name>`` for a shipped config
    (``dmrnet/synthetic_seg_cpu.py`` and ``mmanet/synthetic_seg_cpu.py`` get
    different folders, so auto-resume never picks up another method's
    checkpoint); ``./work_dirs/<config name>`` for any other config.

    Example:
        >>> from mm_incomplete.utils import config_path
        >>> default_work_dir(config_path('dmrnet/synthetic_seg_cpu.py'))
        './work_dirs/dmrnet/synthetic_seg_cpu'
    """
    from .config import CONFIG_ROOT
    path = osp.realpath(config_path)
    root = osp.realpath(CONFIG_ROOT)
    name = osp.splitext(osp.basename(path))[0]
    if osp.commonpath([path, root]) == root:
        folder = osp.dirname(osp.relpath(path, root))
        if folder:
            return osp.join('./work_dirs', folder, name)
    return osp.join('./work_dirs', name)


def set_work_dir(cfg: Config, config_path: str,
                 work_dir: Optional[str]) -> None:
    """CLI > config > :func:`default_work_dir`."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = default_work_dir(config_path)


def setup_launcher(cfg: Config, launcher: str) -> None:
    """Distributed set-up that also works without CUDA.

    Where CUDA is absent the process group uses gloo, and DDP wraps the CPU
    model without ``device_ids`` (mmengine passes the local rank as a CUDA
    device id by default, which DDP rejects for a CPU module). mmengine's
    ``init_dist`` calls ``torch.cuda.set_device`` unconditionally, so for
    the ``pytorch`` launcher the gloo group is initialised here, before the
    runner, which then finds it and skips its own initialisation.
    """
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    env_cfg = cfg.setdefault('env_cfg', {})
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    if launcher != 'pytorch':
        raise ValueError(f'--launcher {launcher} needs CUDA; without it only '
                         'the pytorch launcher (tools/dist_*.sh) is supported')
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='gloo')
    wrapper = cfg.get('model_wrapper_cfg', None) or dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def parse_launch_args(parser: argparse.ArgumentParser,
                      argv: Optional[Sequence[str]] = None):
    """Add the options both tools share, parse, and export the local rank.

    ``--cfg-options``, ``--launcher`` and ``--local-rank`` (which
    torch.distributed.launch passes; torchrun sets ``LOCAL_RANK`` instead).
    """
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value (xxx=yyy format)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def finish_launch() -> None:
    """Tear the process group down before the interpreter exits.

    Left to the interpreter's shutdown, gloo's threads can abort a rank
    (SIGABRT) after all work is done, failing an otherwise finished run.
    """
    if torch.distributed.is_available() and \
            torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()

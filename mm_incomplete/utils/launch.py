"""What tools/train.py and tools/test.py share: config set-up for a launch.

Segmentation and classification go through the same tools; the task follows
from the config's ``default_scope``.
"""
import argparse
import os
import os.path as osp
import shutil
import subprocess
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


def first_slurm_host(node_list: str) -> str:
    """The first host of a Slurm node list, without ``scontrol``.

    Example:
        >>> first_slurm_host('node[07-09,12],gpu3')
        'node07'
        >>> first_slurm_host('localhost')
        'localhost'
    """
    node_list = node_list.strip()
    if not node_list:
        raise ValueError('SLURM_NODELIST is empty')
    depth, end = 0, len(node_list)
    for i, ch in enumerate(node_list):  # the first host expression
        depth += ch == '['
        depth -= ch == ']'
        if ch == ',' and depth == 0:
            end = i
            break
    host = node_list[:end]
    if '[' not in host:
        return host
    prefix, _, rest = host.partition('[')
    first = rest.rstrip(']').split(',')[0].split('-')[0]
    if not first or ']' in first:
        raise ValueError(f'cannot read the first host of SLURM_NODELIST='
                         f'{node_list!r}')
    return prefix + first


def slurm_to_torch_env(environ=None) -> dict:
    """Set RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT from
    the variables ``srun`` gives each task, as mmengine's slurm launcher
    does, but without touching CUDA.

    ``MASTER_ADDR`` and ``MASTER_PORT`` already in the environment are kept
    (default port 29500); otherwise the address is the first host of
    ``SLURM_NODELIST`` (``scontrol show hostnames`` where available).

    Raises:
        KeyError: a variable srun sets is missing (names it).
    """
    env = os.environ if environ is None else environ
    missing = [k for k in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST')
               if k not in env]
    if missing:
        raise KeyError(f'--launcher slurm: {missing} not in the environment; '
                       'start the tool with srun (tools/slurm_train.sh)')
    rank, world = int(env['SLURM_PROCID']), int(env['SLURM_NTASKS'])
    if not 0 <= rank < world:
        raise ValueError(f'SLURM_PROCID={rank} is not below SLURM_NTASKS='
                         f'{world}')
    if 'MASTER_ADDR' not in env:
        host = None
        if shutil.which('scontrol'):
            out = subprocess.run(
                ['scontrol', 'show', 'hostnames', env['SLURM_NODELIST']],
                capture_output=True, text=True)
            lines = out.stdout.split()
            host = lines[0] if out.returncode == 0 and lines else None
        env['MASTER_ADDR'] = host or first_slurm_host(env['SLURM_NODELIST'])
    env.setdefault('MASTER_PORT', '29500')
    env['RANK'], env['WORLD_SIZE'] = str(rank), str(world)
    env['LOCAL_RANK'] = env.get('SLURM_LOCALID', str(rank))
    return {k: env[k] for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK',
                                'MASTER_ADDR', 'MASTER_PORT')}


def setup_launcher(cfg: Config, launcher: str) -> None:
    """Distributed set-up that also works without CUDA.

    Where CUDA is absent the process group uses gloo, and DDP wraps the CPU
    model without ``device_ids`` (mmengine passes the local rank as a CUDA
    device id by default, which DDP rejects for a CPU module). mmengine's
    ``init_dist`` calls ``torch.cuda.set_device`` unconditionally, so for
    the ``pytorch`` and ``slurm`` launchers the gloo group is initialised
    here, before the runner, which then finds it and skips its own
    initialisation. For ``slurm`` the torch variables are derived from
    srun's first (:func:`slurm_to_torch_env`).
    """
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    env_cfg = cfg.setdefault('env_cfg', {})
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    if launcher not in ('pytorch', 'slurm'):
        raise ValueError(f'--launcher {launcher} needs CUDA; without it the '
                         'pytorch (tools/dist_*.sh) and slurm '
                         '(tools/slurm_*.sh) launchers are supported')
    if launcher == 'slurm':
        slurm_to_torch_env()
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

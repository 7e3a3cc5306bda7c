"""``MultiModalRunner``: mmengine's ``Runner``; nothing silent, nothing lost.

Shorthand: M modalities.

Our configs set ``runner_type = 'MultiModalRunner'``
(``_base_/default_runtime_*.py``), which our tools and mmsegmentation's /
mmpretrain's ``tools/train.py`` honour. On top of mmengine's runner it:

- writes the modality layouts of the config in an order-preserving form
  (``modalities=dict(rgb=3, depth=1)`` becomes ``[['rgb', 3], ['depth', 1]]``)
  before the config is dumped to the work dir and into checkpoints: mmengine
  sorts dict keys when it dumps a config, which turned ``rgb, depth`` into
  ``depth, rgb`` and fed RGB channels to the depth branch of a model tested
  with the dumped config;
- writes every checkpoint to a temporary file and renames it into place, so a
  kill or a full disk never leaves a truncated file under a checkpoint's
  name; a failed write names the file and the free space;
- replaces the config's ``CheckpointHook`` by :class:`AtomicCheckpointHook`
  (delete old checkpoints only after the new one is in place, keep >= 2);
- adds :class:`CheckpointGuardHook` (layout in the checkpoint's meta, strict
  loading, no NaN checkpoints, weights_only-loadable scheduler states),
  :class:`NonFiniteLossHook` and :class:`GeneratorStateHook` (bit-exact
  resume), unless the config already lists them.
"""
import copy
import os
import os.path as osp
import shutil

from mmengine.config import Config
from mmengine.dist import master_only
from mmengine.hooks import CheckpointHook
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

RELIABILITY_HOOKS = ('CheckpointGuardHook', 'NonFiniteLossHook',
                     'GeneratorStateHook')


def keep_layout_order(cfg):
    """Rewrite every ``modalities={name: channels}`` of a config in place as
    the ordered list ``[[name, channels], ...]``, which a dump keeps.

    Example:
        >>> cfg = dict(modalities=dict(rgb=3, depth=1),
        ...            model=dict(backbone=dict(modalities=dict(rgb=3))))
        >>> keep_layout_order(cfg)['modalities']
        [['rgb', 3], ['depth', 1]]
    """
    if isinstance(cfg, Config):
        keep_layout_order(cfg._cfg_dict)
    elif isinstance(cfg, dict):
        for key, value in cfg.items():
            if key == 'modalities' and isinstance(value, dict) and value \
                    and all(isinstance(k, str) for k in value) and all(
                        isinstance(v, int) and not isinstance(v, bool)
                        for v in value.values()):
                cfg[key] = [[k, v] for k, v in value.items()]
            else:
                keep_layout_order(value)
    elif isinstance(cfg, (list, tuple)):
        for item in cfg:
            keep_layout_order(item)
    return cfg


def _hook_type(hook) -> str:
    kind = hook.get('type') if isinstance(hook, dict) else type(hook)
    return kind if isinstance(kind, str) else getattr(kind, '__name__', '')


def _human(num_bytes: float) -> str:
    for unit in ('B', 'KiB', 'MiB', 'GiB', 'TiB'):
        if num_bytes < 1024 or unit == 'TiB':
            return f'{num_bytes:.1f} {unit}'
        num_bytes /= 1024


@RUNNERS.register_module()
class MultiModalRunner(Runner):
    """mmengine ``Runner`` with atomic checkpoints and reliability hooks.

    Takes the arguments of mmengine's ``Runner``; build it from a config with
    ``runner_type='MultiModalRunner'`` (``RUNNERS.build(cfg)``) or
    ``MultiModalRunner.from_cfg(cfg)``.

    Example:
        >>> runner_type = 'MultiModalRunner'  # in a config
    """

    checkpoint_source = 'the checkpoint'

    @classmethod
    def from_cfg(cls, cfg) -> 'Runner':
        cfg = copy.deepcopy(cfg)
        keep_layout_order(cfg)
        return super().from_cfg(cfg)

    def register_hooks(self, default_hooks=None, custom_hooks=None) -> None:
        default_hooks = dict(default_hooks or {})
        ckpt = default_hooks.get('checkpoint', dict(type='CheckpointHook',
                                                    interval=1))
        if isinstance(ckpt, dict) and ckpt.get('type') in (
                'CheckpointHook', CheckpointHook):
            default_hooks['checkpoint'] = dict(ckpt,
                                               type='AtomicCheckpointHook')
        custom_hooks = list(custom_hooks or [])
        present = {_hook_type(h) for h in custom_hooks}
        custom_hooks += [dict(type=t) for t in RELIABILITY_HOOKS
                         if t not in present]
        super().register_hooks(default_hooks, custom_hooks)

    def load_checkpoint(self, filename: str, *args, **kwargs):
        """mmengine's ``load_checkpoint``; hooks see the file's name as
        ``runner.checkpoint_source``."""
        self.checkpoint_source = f'checkpoint {filename}'
        try:
            return super().load_checkpoint(filename, *args, **kwargs)
        finally:
            self.checkpoint_source = type(self).checkpoint_source

    @master_only
    def save_checkpoint(self, out_dir: str, filename: str,
                        file_client_args=None, save_optimizer: bool = True,
                        save_param_scheduler: bool = True, meta=None,
                        by_epoch: bool = True, backend_args=None) -> None:
        """mmengine's ``save_checkpoint`` through a temporary file.

        The checkpoint is written to ``.<filename>.partial`` in ``out_dir``
        and renamed to ``filename`` once complete; a write that fails (disk
        full, ...) removes the partial file and raises an ``OSError`` naming
        the checkpoint and the free space. Remote ``out_dir`` (a file
        backend) are written as mmengine does.
        """
        args = dict(file_client_args=file_client_args,
                    save_optimizer=save_optimizer,
                    save_param_scheduler=save_param_scheduler, meta=meta,
                    by_epoch=by_epoch, backend_args=backend_args)
        if file_client_args is not None or backend_args is not None or \
                '://' in str(out_dir):
            return super().save_checkpoint(out_dir, filename, **args)
        final = osp.join(out_dir, filename)
        partial_name = osp.join(osp.dirname(filename),
                                f'.{osp.basename(filename)}.partial')
        partial = osp.join(out_dir, partial_name)
        try:
            super().save_checkpoint(out_dir, partial_name, **args)
            with open(partial, 'rb') as f:
                os.fsync(f.fileno())
            os.replace(partial, final)
        except OSError as err:
            written = osp.getsize(partial) if osp.exists(partial) else 0
            if osp.exists(partial):
                os.remove(partial)
            free = shutil.disk_usage(out_dir).free if osp.isdir(
                out_dir) else 0
            raise OSError(
                err.errno,
                f'cannot write checkpoint {final}: {err.strerror or err} '
                f'({_human(written)} were written before the failure; '
                f'{_human(free)} free on the disk of {out_dir}). The '
                'previous checkpoints are kept.') from err
        except BaseException:
            if osp.exists(partial):
                os.remove(partial)
            raise

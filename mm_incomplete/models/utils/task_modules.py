"""Build a module in the registry of the task it belongs to.

Task-agnostic wrappers (late fusion, a hard-combination regularizer, a neck
sequence) live in mmengine's root registry but hold a task module: an mmseg
decode head or an mmpretrain classification head. The wrapper may be built
under either default scope (or none, in a test), so the inner module is
looked up where its type is registered.
"""
from typing import Optional, Tuple

import torch.nn as nn
from mmengine.registry import MODELS as ROOT_MODELS
from mmpretrain.registry import MODELS as CLS_MODELS
from mmseg.registry import MODELS as SEG_MODELS

REGISTRIES = dict(seg=SEG_MODELS, cls=CLS_MODELS)


def task_of(cfg: dict, option: str) -> Optional[str]:
    """``'seg'`` / ``'cls'`` where ``cfg['type']`` is registered by mmseg /
    mmpretrain, ``None`` for a task-agnostic (root registry) type."""
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError(f'`{option}` must be a config dict with a `type`, '
                        f'got {cfg!r}')
    typ = cfg['type']
    if not isinstance(typ, str):
        return None
    found = [t for t, reg in REGISTRIES.items() if typ in reg.module_dict]
    if len(found) > 1:
        return None
    if found:
        return found[0]
    if typ not in ROOT_MODELS.module_dict:
        raise KeyError(f'`{option}`: type {typ!r} is registered neither in '
                       "mmseg's, mmpretrain's nor mmengine's MODELS")
    return None


def build_task_module(cfg: dict, option: str,
                      task: Optional[str] = None) -> Tuple[nn.Module, str]:
    """Build ``cfg`` in its task's registry.

    Args:
        cfg (dict): the module config.
        option (str): the config key, for error messages.
        task (str, optional): ``'seg'`` or ``'cls'`` when the type alone
            does not tell.

    Returns:
        tuple: the module and its task (``None`` if neither tells).
    """
    found = task_of(cfg, option)
    if task is not None and task not in REGISTRIES:
        raise ValueError(f'`task` must be one of {sorted(REGISTRIES)}, got '
                         f'{task!r}')
    if task is not None and found is not None and task != found:
        raise ValueError(f'`{option}` type {cfg["type"]!r} is a {found} '
                         f'module but task={task!r}')
    task = task or found
    registry = REGISTRIES[task] if task else ROOT_MODELS
    cfg = dict(cfg)
    if task:
        cfg.setdefault('_scope_', registry.scope)
    return registry.build(cfg), task

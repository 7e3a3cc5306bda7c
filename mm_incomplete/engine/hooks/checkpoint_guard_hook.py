"""Checks on every checkpoint written or read by a run.

Shorthand: M modalities, C_m channels of modality m.

Writing (``before_save_checkpoint``):

- the model's modality layout (ordered names and channel counts) goes into
  ``meta['modality_layout']``, so a checkpoint says what its input channels
  mean;
- a model with a non-finite weight or buffer is not saved (the error names
  the tensors and the iteration): a NaN model never becomes ``iter_*.pth``
  or ``best_*.pth``;
- parameter scheduler states lose the functions mmengine's schedulers set in
  ``__init__`` (OneCycle's ``anneal_func``, a static method), which pickle as
  ``getattr`` and cannot be loaded under ``torch.load``'s ``weights_only``;
  the scheduler sets them again from its arguments when it is built. Any
  other function in a scheduler's state is an error naming the scheduler and
  the field, at save time rather than at load time.

Reading (``after_load_checkpoint``; ``tools/test.py``, ``load_from`` and
``--resume`` all pass here):

- a layout in the checkpoint that differs from the model's, in names, channel
  counts or order, is an error naming both;
- weights that do not match the model (missing, unexpected or mis-shaped
  keys) are an error listing them, instead of mmengine's warning and a model
  with random layers.
"""
import inspect
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from mm_incomplete.modality import ModalityLayout
from mm_incomplete.utils.checkpoint import describe_state_mismatch

LAYOUT_KEY = 'modality_layout'


def model_layout(model) -> Optional[ModalityLayout]:
    """The layout of a model's data preprocessor (``None`` if it has none)."""
    model = getattr(model, 'module', model)
    pre = getattr(model, 'data_preprocessor', None)
    layout = getattr(pre, 'layout', None)
    return layout if isinstance(layout, ModalityLayout) else None


def layout_meta(layout: ModalityLayout) -> dict:
    """What the checkpoint stores: ``dict(names=[...], channels=[...])``."""
    return dict(names=list(layout.names), channels=list(layout.channels))


def _layout_text(meta: dict) -> str:
    return ','.join(f'{n}:{c}' for n, c in zip(meta['names'],
                                               meta['channels']))


def _set_by_init(value, scheduler) -> bool:
    """A method of the scheduler, or a function of its class (a static
    method picked by ``__init__`` from the arguments, as OneCycle's
    ``anneal_func``)."""
    if inspect.ismethod(value):
        return value.__self__ is scheduler
    name = getattr(value, '__name__', None)
    return name is not None and getattr(type(scheduler), name, None) is value


def strip_scheduler_methods(states, schedulers,
                            where: str = 'param_schedulers') -> None:
    """Drop the functions a scheduler's ``__init__`` sets (in place).

    Args:
        states (list | dict): ``checkpoint['param_schedulers']``, a list of
            state dicts or a dict of such lists.
        schedulers (list | dict): the schedulers, in the same structure.
        where (str): the name used in errors.

    Example:
        >>> class Sched:
        ...     @staticmethod
        ...     def _cos(a): return a
        ...     def __init__(self): self.anneal_func = self._cos
        >>> states = [dict(total_steps=10, anneal_func=Sched._cos)]
        >>> strip_scheduler_methods(states, [Sched()]); states
        [{'total_steps': 10}]
    """
    if isinstance(states, dict):
        for name, group in states.items():
            strip_scheduler_methods(group, schedulers[name], f'{where}.{name}')
        return
    for i, (state, sched) in enumerate(zip(states or [], schedulers or [])):
        for key in list(state):
            value = state[key]
            if not callable(value) or isinstance(value, torch.Tensor):
                continue
            if _set_by_init(value, sched):
                del state[key]  # the scheduler's __init__ sets it again
            else:
                raise TypeError(
                    f'{where}[{i}].{key} is the function {value!r}: a '
                    'checkpoint holding it cannot be loaded with torch.load'
                    "'s weights_only; use a scheduler whose state is data")


@HOOKS.register_module()
class CheckpointGuardHook(Hook):
    """Store the layout in checkpoints and check what is saved and loaded.

    ``MultiModalRunner`` adds this hook to every run.

    Args:
        strict (bool): refuse a loaded checkpoint whose weights do not match
            the model exactly. Set False only to fine-tune from another
            model's checkpoint on purpose (mismatches are then mmengine's
            warnings). The layout is checked either way.

    Example:
        >>> custom_hooks = [dict(type='CheckpointGuardHook')]
    """

    priority = 'VERY_HIGH'

    def __init__(self, strict: bool = True):
        self.strict = strict

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        layout = model_layout(runner.model)
        if layout is not None:
            checkpoint.setdefault('meta', {})[LAYOUT_KEY] = layout_meta(layout)
        bad = [k for k, v in checkpoint.get('state_dict', {}).items()
               if torch.is_tensor(v) and v.is_floating_point()
               and not bool(torch.isfinite(v).all())]
        if bad:
            step = (checkpoint.get('meta') or {}).get('iter', runner.iter)
            raise FloatingPointError(
                f'not saving a checkpoint at iteration {step}: '
                f'{len(bad)} weight(s) are NaN or infinite: '
                f'{", ".join(bad[:10])}' + (' ...' if len(bad) > 10 else ''))
        if 'param_schedulers' in checkpoint:
            strip_scheduler_methods(checkpoint['param_schedulers'],
                                    runner.param_schedulers)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        source = getattr(runner, 'checkpoint_source', 'the checkpoint')
        model = getattr(runner.model, 'module', runner.model)
        layout = model_layout(model)
        saved = (checkpoint.get('meta') or {}).get(LAYOUT_KEY)
        if layout is not None and saved is not None and \
                saved != layout_meta(layout):
            raise ValueError(
                f'{source} was trained with the modality layout '
                f'{_layout_text(saved)!r}, but the config builds '
                f'{_layout_text(layout_meta(layout))!r}: the input channels '
                'would be read as other modalities. Give `modalities` in the '
                "checkpoint's order, e.g. "
                f'modalities={_layout_text(saved)!r} (a config dumped from a '
                'dict form has its keys sorted)')
        if not self.strict:
            return
        state = checkpoint.get('state_dict', checkpoint)
        state = {k[len('module.'):] if k.startswith('module.') else k: v
                 for k, v in state.items()}
        problems = describe_state_mismatch(model.state_dict(), state)
        if problems:
            raise ValueError('\n  '.join(
                [f'{source} does not match the model built from the config '
                 '(another config\'s checkpoint?):'] + problems))

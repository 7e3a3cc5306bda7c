"""Training in stages: modules frozen at an earlier stage's checkpoint.

Shorthand: M modalities, C_m channels of modality m.

A later stage (DI-MML's stage 2) builds the earlier stage's model plus new
modules, loads the **frozen** modules (e.g. ``backbone`` and
``head.heads``) from the earlier stage's checkpoint and trains only the
rest. Frozen means: no parameter requires a gradient (so none enters an
optimizer built by :class:`TrainableParamsOptimWrapperConstructor`) and the
module stays in eval mode whatever ``train()`` is called with, so its
BatchNorm statistics never move. Loading is strict for the frozen modules:
a missing file, keys missing from or unexpected in the checkpoint under a
frozen module, a mis-shaped tensor or another modality layout is an error
that names the file and the keys; checkpoint keys outside the frozen
modules (what the earlier stage trained only for itself, e.g. DI-MML's
shared head) are not loaded.
"""
import types
from typing import List, Sequence

import torch.nn as nn

from mm_incomplete.utils.checkpoint import (describe_state_mismatch,
                                            load_local_checkpoint)


def _always_eval(self, mode: bool = True):
    """``train()`` of a frozen module: whatever ``mode``, stay in eval."""
    return nn.Module.train(self, False)


def freeze_module(module: nn.Module) -> nn.Module:
    """No gradients, eval mode now and after any later ``train()`` call.

    Example:
        >>> bn = freeze_module(nn.BatchNorm1d(2))
        >>> _ = bn.train()
        >>> bn.training, bn.weight.requires_grad
        (False, False)
    """
    for param in module.parameters():
        param.requires_grad_(False)
    module.train = types.MethodType(_always_eval, module)
    module.train()
    return module


def get_submodule(model: nn.Module, path: str, option: str) -> nn.Module:
    """``model``'s module at dotted ``path``; an error names ``option``."""
    try:
        return model.get_submodule(path)
    except AttributeError:
        top = [n for n, _ in model.named_children()]
        raise ValueError(f'`{option}`: the model has no module {path!r} '
                         f'(its top-level modules: {top})') from None


def module_prefixes(names: Sequence[str]) -> str:
    """The distinct two-level prefixes of parameter / state-dict names,
    for a log line.

    Example:
        >>> module_prefixes(['head.fusion_head.w', 'head.shared.b',
        ...                  'head.shared.w'])
        'head.fusion_head, head.shared'
    """
    return ', '.join(sorted({'.'.join(n.split('.')[:2]) for n in names}))


def _under(key: str, paths: Sequence[str]) -> bool:
    return any(key.startswith(p + '.') for p in paths)


def load_frozen_modules(model: nn.Module, path: str, frozen: Sequence[str],
                        option: str = 'stage1_ckpt') -> List[str]:
    """Load the modules ``frozen`` of ``model`` from checkpoint ``path``.

    Args:
        model (nn.Module): the later stage's model (with ``layout``).
        path (str): the earlier stage's checkpoint (mmengine's, with
            ``state_dict``, or a bare state dict).
        frozen (Sequence[str]): dotted module paths, e.g. ``['backbone',
            'head.heads']``.
        option (str): the config key of ``path``, for error messages.

    Returns:
        list[str]: checkpoint keys outside the frozen modules (not loaded).

    Raises:
        ValueError: ``path`` is empty, the checkpoint's modality layout
            differs from the model's, or the frozen modules' keys do not
            match (missing, unexpected, mis-shaped: all listed).
        FileNotFoundError: no file at ``path``.
    """
    if not path:
        raise ValueError(f'`{option}` is empty: give the checkpoint of the '
                         'earlier training stage')
    try:
        ckpt = load_local_checkpoint(path, map_location='cpu')
    except FileNotFoundError:
        raise FileNotFoundError(
            f'`{option}`: checkpoint not found: {path}; train the earlier '
            'stage first and point the option at its checkpoint') from None
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise TypeError(f'`{option}`: {path} holds a {type(ckpt).__name__}, '
                        'not a state dict')
    state = {k[len('module.'):] if k.startswith('module.') else k: v
             for k, v in state.items()}
    # the meta CheckpointGuardHook writes (imported here: the engine
    # package imports the models)
    from mm_incomplete.engine.hooks.checkpoint_guard_hook import (
        LAYOUT_KEY, layout_meta)
    layout = getattr(model, 'layout', None)
    saved = (ckpt.get('meta') or {}).get(LAYOUT_KEY)
    if layout is not None and saved is not None:
        own = layout_meta(layout)
        if saved != own:
            raise ValueError(
                f'`{option}`: {path} was trained with the modality layout '
                f'{saved}, the model has {own}')
    own = {k: v for k, v in model.state_dict().items() if _under(k, frozen)}
    theirs = {k: v for k, v in state.items() if _under(k, frozen)}
    problems = describe_state_mismatch(own, theirs)
    if problems:
        raise ValueError('\n  '.join(
            [f'`{option}`: {path} does not match the frozen modules '
             f'{list(frozen)} of the model:'] + problems))
    result = model.load_state_dict(theirs, strict=False)
    assert not result.unexpected_keys
    return sorted(k for k in state if not _under(k, frozen))

"""Load a teacher from its checkpoint and freeze it.

A teacher is trained first as a plain model (its own config); the distiller
builds the same model and loads the checkpoint here. Loading is strict: a
missing file is an error naming the path, and keys or shapes that do not
match the teacher config are an error listing them. A frozen teacher has no
trainable parameter and stays in eval mode whatever ``train()`` is called
with, so its BatchNorm statistics never move.
"""
import os.path as osp
from typing import Optional

import torch.nn as nn

from mm_incomplete.utils import (describe_state_mismatch,
                                  load_local_checkpoint)
from ..utils.staged_training import freeze_module

_PRE = 'data_preprocessor.'


def _model_state(checkpoint, path: str) -> dict:
    if isinstance(checkpoint, dict) and 'state_dict' in checkpoint:
        checkpoint = checkpoint['state_dict']
    if not isinstance(checkpoint, dict):
        raise TypeError(f'teacher checkpoint {path} holds a '
                        f'{type(checkpoint).__name__}, not a state dict')
    return checkpoint


def load_teacher_checkpoint(teacher: nn.Module, path: str,
                            prefix: Optional[str] = None) -> None:
    """Strictly load ``path`` into ``teacher`` (its data preprocessor aside).

    Args:
        teacher (nn.Module): the built teacher model.
        path (str): checkpoint file (an mmengine checkpoint with
            ``state_dict`` or a bare state dict).
        prefix (str, optional): keep only keys starting with it and strip it,
            e.g. ``'student.'`` to take the student of a distiller
            checkpoint as a teacher.

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
        ValueError: keys missing from or unexpected in the checkpoint, or
            tensors of another shape (all listed).
    """
    if not path:
        raise ValueError('`teacher_ckpt` is empty: the teacher must be '
                         'loaded from the checkpoint of a trained model')
    if not osp.isfile(osp.expanduser(path)):
        raise FileNotFoundError(f'teacher checkpoint not found: {path} '
                                '(`teacher_ckpt`); train the teacher config '
                                'first and point `teacher_ckpt` at its '
                                'checkpoint')
    state = _model_state(load_local_checkpoint(path, map_location='cpu'),
                         path)
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items()
                 if k.startswith(prefix)}
    # the teacher's own data preprocessor never runs (the distiller feeds it
    # preprocessed inputs): its state (e.g. a sampler's generator) is not
    # compared or loaded
    state = {k: v for k, v in state.items() if not k.startswith(_PRE)}
    own = {k: v for k, v in teacher.state_dict().items()
           if not k.startswith(_PRE)}
    problems = describe_state_mismatch(own, state)
    if problems:
        raise ValueError('\n  '.join(
            [f'teacher checkpoint {path} does not match the teacher '
             'config:'] + problems))
    result = teacher.load_state_dict(state, strict=False)
    assert not result.unexpected_keys and all(
        k.startswith(_PRE) for k in result.missing_keys)


def freeze_teacher(teacher: nn.Module) -> nn.Module:
    """No gradients, eval mode now and after any later ``train()`` call."""
    return freeze_module(teacher)
